/**
 * A generated corpus of migration files for the lint benchmark: deterministic (seeded), a mix of
 * hazardous and safe statements as real migration folders have them — table creation with
 * indexes, added columns with all kinds of defaults, type changes, constraints, backfills,
 * renames and drops, transaction blocks, lock_timeout, functions with dollar-quoted bodies,
 * comments.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { seededRandom } from '../src/util/seeded-random.js';

const prng = seededRandom;

const TABLES = ['users', 'orders', 'order_items', 'products', 'invoices', 'payments', 'accounts', 'sessions', 'events', 'audit_log', 'subscriptions', 'teams'];
const COLUMNS = ['status', 'plan', 'region', 'score', 'email', 'name', 'title', 'amount', 'currency', 'note', 'external_id', 'flags'];
const TYPES = ['text', 'integer', 'bigint', 'boolean', 'timestamptz', 'numeric(12,2)', 'varchar(64)', 'jsonb', 'uuid', 'date'];
const DEFAULTS = ["'free'", '0', 'false', 'now()', 'gen_random_uuid()', "'{}'::jsonb", 'CURRENT_DATE', 'clock_timestamp()', "'eu'"];

export interface CorpusInfo {
  dir: string;
  files: string[];
  bytes: number;
  statements: number;
}

export function generateCorpus(dir: string, count: number, seed = 42): CorpusInfo {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const files: string[] = [];
  let bytes = 0;
  let statements = 0;

  for (let i = 1; i <= count; i++) {
    const out: string[] = [`-- Migration ${String(i).padStart(4, '0')}: generated for the lint benchmark`, ''];
    const n = 3 + Math.floor(rnd() * 10);
    const newTable = `t_${i}_${pick(['archive', 'staging', 'rollup', 'import', 'queue'])}`;
    let inTx = false;
    if (rnd() < 0.6) {
      out.push("SET lock_timeout = '2s';");
      statements++;
    }
    if (rnd() < 0.3) {
      out.push('BEGIN;');
      inTx = true;
      statements++;
    }
    for (let k = 0; k < n; k++) {
      const t = pick(TABLES);
      const c = `${pick(COLUMNS)}_${i}_${k}`;
      const r = rnd();
      let sql: string;
      if (r < 0.08) {
        sql = `CREATE TABLE IF NOT EXISTS ${newTable} (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  ${t}_id bigint NOT NULL REFERENCES ${t} (id),\n  payload jsonb NOT NULL DEFAULT '{}',\n  created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX ${newTable}_${t}_idx ON ${newTable} (${t}_id);`;
        statements++;
      } else if (r < 0.22) {
        const ty = pick(TYPES);
        const def = rnd() < 0.5 ? ` DEFAULT ${pick(DEFAULTS)}` : '';
        const nn = rnd() < 0.25 ? ' NOT NULL' : '';
        sql = `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${c} ${ty}${nn}${def};`;
      } else if (r < 0.3) {
        sql =
          rnd() < 0.5
            ? `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${t}_${c}_idx ON ${t} (${c});`
            : `CREATE INDEX ${t}_${c}_idx ON ${t} USING btree (${c}, id) WHERE ${c} IS NOT NULL;`;
      } else if (r < 0.36) {
        sql = `ALTER TABLE ${t} ALTER COLUMN ${pick(COLUMNS)} TYPE ${pick(['bigint', 'text', 'varchar(255)', 'numeric(14,2)', 'timestamptz'])};`;
      } else if (r < 0.42) {
        sql = `ALTER TABLE ${t} ADD CONSTRAINT ${t}_${c}_check CHECK (${pick(COLUMNS)} IS NOT NULL)${rnd() < 0.5 ? ' NOT VALID' : ''};`;
      } else if (r < 0.47) {
        const other = pick(TABLES);
        sql = `ALTER TABLE ${t} ADD CONSTRAINT ${t}_${other}_fk_${i}_${k} FOREIGN KEY (${other}_id) REFERENCES ${other} (id) ON DELETE CASCADE${rnd() < 0.5 ? ' NOT VALID' : ''};`;
      } else if (r < 0.51) {
        sql = `ALTER TABLE ${t} ALTER COLUMN ${pick(COLUMNS)} SET NOT NULL;`;
      } else if (r < 0.57) {
        sql =
          rnd() < 0.5
            ? `UPDATE ${t} SET ${pick(COLUMNS)} = lower(${pick(COLUMNS)}) WHERE ${pick(COLUMNS)} IS NULL;`
            : `UPDATE ${t} SET ${pick(COLUMNS)} = 'migrated' WHERE id >= ${k * 1000} AND id < ${(k + 1) * 1000};`;
      } else if (r < 0.61) {
        sql = rnd() < 0.5 ? `ALTER TABLE ${t} RENAME COLUMN ${pick(COLUMNS)} TO ${c};` : `ALTER TABLE ${t} DROP COLUMN IF EXISTS ${c};`;
      } else if (r < 0.64) {
        sql = `CREATE UNIQUE INDEX CONCURRENTLY ${t}_${c}_key ON ${t} (${c});\nALTER TABLE ${t} ADD CONSTRAINT ${t}_${c}_key UNIQUE USING INDEX ${t}_${c}_key;`;
        statements++;
      } else if (r < 0.7) {
        sql = `CREATE OR REPLACE FUNCTION ${t}_touch_${i}_${k}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$;\nCREATE TRIGGER ${t}_touch_${i}_${k} BEFORE UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${t}_touch_${i}_${k}();`;
        statements++;
      } else if (r < 0.75) {
        sql = `CREATE OR REPLACE VIEW ${t}_active_${i} AS\n  SELECT id, ${pick(COLUMNS)}, ${pick(COLUMNS)}\n  FROM ${t}\n  WHERE deleted_at IS NULL AND ${pick(COLUMNS)} <> 'archived';`;
      } else if (r < 0.8) {
        sql = `INSERT INTO ${t} (id, ${pick(COLUMNS)}) VALUES (${i * 100 + k}, 'seed') ON CONFLICT (id) DO NOTHING;`;
      } else if (r < 0.84) {
        sql = `COMMENT ON COLUMN ${t}.${pick(COLUMNS)} IS 'Set by migration ${i}; see the runbook.';`;
      } else if (r < 0.87) {
        sql = `ALTER TABLE ${t} ALTER COLUMN ${pick(COLUMNS)} SET DEFAULT ${pick(DEFAULTS)};`;
      } else if (r < 0.9) {
        sql = `DROP INDEX ${rnd() < 0.5 ? 'CONCURRENTLY ' : ''}IF EXISTS ${t}_${pick(COLUMNS)}_idx;`;
      } else if (r < 0.92) {
        sql = pick([`VACUUM (ANALYZE) ${t};`, `VACUUM FULL ${t};`, `CLUSTER ${t} USING ${t}_pkey;`, `LOCK TABLE ${t} IN SHARE MODE;`, `TRUNCATE ${newTable};`]);
      } else if (r < 0.95) {
        sql = `ALTER TABLE ${t} ADD COLUMN ${c} bigserial;`;
      } else {
        sql = `-- backfill in batches\nDO $$\nDECLARE last_id bigint := 0;\nBEGIN\n  LOOP\n    UPDATE ${t} SET ${pick(COLUMNS)} = 'x' WHERE id > last_id AND id <= last_id + 5000;\n    EXIT WHEN NOT FOUND;\n    last_id := last_id + 5000;\n  END LOOP;\nEND $$;`;
      }
      statements++;
      out.push(sql);
    }
    if (inTx) {
      out.push('COMMIT;');
      statements++;
    }
    const file = path.join(dir, `${String(i).padStart(4, '0')}_migration.sql`);
    const text = `${out.join('\n')}\n`;
    writeFileSync(file, text);
    bytes += Buffer.byteLength(text);
    files.push(file);
  }
  return { dir, files, bytes, statements };
}
