/**
 * npm run bench:backfill:statements -- [--rows 300000] [--batch-size 5000] [--database-url URL]
 *
 * The backfill's batch statement (src/exec/backfill-sql.ts) against hand-written ones, on
 * identical tables in one database, each shape run twice, interleaved (a shared machine drifts):
 *   update   one UPDATE of every row (the baseline);
 *   plain    batched `UPDATE … WHERE id > a AND id <= b` (no lock, no skipped keys, no checkpoint);
 *   backfill the backfill's batch statement (one UPDATE of the next keys' range, with the checkpoint);
 *   locking  the backfill's locking statement (FOR UPDATE SKIP LOCKED first, skipped keys stored),
 *            which a batch falls back to after it had to wait for a row an application holds.
 * No trigger, no CLI: the cost of the statements themselves. Prints seconds and ratios to `update`.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { databaseUrlFor } from '../../src/db/connection.js';
import { keyedSql, type SetBasedStep } from '../../src/exec/backfill-sql.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '300000' }, 'batch-size': { type: 'string', default: '5000' }, 'database-url': { type: 'string' } } });
const rows = Number(values.rows);
const batch = Number(values['batch-size']);
const adminUrl = values['database-url'] ?? process.env['TANDEM_TEST_DATABASE_URL'];
if (!adminUrl) throw new Error('pass --database-url (or set TANDEM_TEST_DATABASE_URL)');

const name = `tandem_bench_${randomBytes(5).toString('hex')}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
const db = new pg.Client({ connectionString: databaseUrlFor(adminUrl, name) });
await db.connect();

const shapes = ['update', 'plain', 'backfill', 'locking'] as const;
type Shape = (typeof shapes)[number];
const step = (table: string): SetBasedStep => ({
  kind: 'backfill',
  id: `backfill:${table}`,
  description: '',
  schema: 'public',
  table,
  keyColumns: ['id'],
  keyTypes: ['bigint'],
  markerColumn: '_tandem_synced',
  estimatedRows: rows,
  up: { targets: ['new_col'], lateral: 'LATERAL (SELECT CAST((lower(__tandem_row.c1)) AS text) AS "new_col") AS __tandem_up' },
});

async function run(shape: Shape, table: string): Promise<number> {
  await db.query('CHECKPOINT').catch(() => undefined);
  const t0 = performance.now();
  if (shape === 'update') await db.query(`UPDATE ${table} SET new_col = lower(c1)`);
  else if (shape === 'plain') {
    for (let lo = 0; lo < rows; lo += batch) {
      await db.query(`BEGIN; SET LOCAL synchronous_commit = off; UPDATE ${table} SET new_col = lower(c1), _tandem_synced = true WHERE id > ${lo} AND id <= ${lo + batch}; COMMIT`);
    }
  } else {
    await db.query(`INSERT INTO tandem.backfill_checkpoints (migration_id, table_name, slice, key_columns) VALUES (1, $1, 0, '{id}')`, [table]);
    const sql = keyedSql(step(table));
    for (let after: string[] | null = null; ;) {
      const args = { migrationId: '1', slice: 0, limit: batch, after };
      const q = shape === 'locking' ? sql.batch(args) : sql.plainBatch(args);
      const res = (await db.query(`BEGIN; SET LOCAL synchronous_commit = off; ${q}; COMMIT`)) as unknown as pg.QueryResult[];
      const row = res.find((r) => r.command === 'SELECT')!.rows[0] as { seen: number; last_key: string[] };
      if (row.seen < batch) break;
      after = row.last_key;
    }
  }
  return (performance.now() - t0) / 1000;
}

try {
  await db.query(`CREATE SCHEMA tandem;
    CREATE TABLE tandem.backfill_checkpoints (migration_id bigint, table_name text, slice int, key_columns text[], range_start text[], range_end text[], last_key text[],
      rows_done bigint DEFAULT 0, batches bigint DEFAULT 0, done boolean DEFAULT false, updated_at timestamptz, PRIMARY KEY (migration_id, table_name, slice));
    CREATE TABLE tandem.backfill_skipped (migration_id bigint, table_name text, key text[], PRIMARY KEY (migration_id, table_name, key));`);
  const order = [...shapes, ...shapes].map((s, i) => ({ shape: s, table: `${s}_${i}` }));
  for (const { table } of order) {
    await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, c1 text, c2 integer, c3 text, c4 integer);
      INSERT INTO ${table} SELECT g, 'Name ' || g, g % 1000, 'v' || g % 97, g % 13 FROM generate_series(1, ${rows}) g;
      ALTER TABLE ${table} ADD COLUMN new_col text, ADD COLUMN _tandem_synced boolean;`);
    await db.query(`VACUUM ANALYZE ${table}`);
  }
  const seconds = new Map<Shape, number>();
  for (const { shape, table } of order) seconds.set(shape, (seconds.get(shape) ?? 0) + (await run(shape, table)));
  const base = seconds.get('update')!;
  for (const s of shapes) process.stdout.write(`${s.padEnd(8)} ${(seconds.get(s)! / 2).toFixed(2)} s  ${(base / seconds.get(s)!).toFixed(2)}× one UPDATE\n`);
} finally {
  await db.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
