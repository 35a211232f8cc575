/**
 * `npm run bench:writes -- --trigger-variants`: where the sync trigger's time goes. On one table
 * with the migration active (after the backfill and a VACUUM), the trigger's function and WHEN
 * clause are swapped for variants and each workload's server CPU per one-row transaction is
 * measured (minimum of `rounds` rounds, variants interleaved). The variants are the benchmark's
 * own; Tandem generates only "shipped" (UPDATE OF the columns it reads or writes, no WHEN clause).
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { connect, databaseUrlFor } from '../../src/db/connection.js';
import { start } from '../../src/engine/lifecycle.js';
import { ident } from '../../src/sql/ident.js';
import { MARKER_COLUMN } from '../../src/plan/names.js';
import { serverCpuPerTransaction } from './cpu.js';
import { benchMigration, publicTable, SHADOW, setupSql, TABLE, type WorkloadKind, workloadSql } from './table.js';

export interface VariantOptions {
  rows: number;
  columns: number;
  workloads: WorkloadKind[];
  transactions: number;
  rounds: number;
  log: (line: string) => void;
}

export interface VariantResult {
  columns: number;
  /** variant → workload → µs of server CPU per transaction (minimum over the rounds). */
  cpu: Record<string, Partial<Record<WorkloadKind, number>>>;
}

interface Installed {
  fn: string;
  trigger: string;
  triggerName: string;
  fnName: string;
}

/** The variants, as SQL that replaces the function and the trigger (or disables it). */
function variants(t: Installed): Record<string, string[]> {
  const table = publicTable(TABLE);
  const withWhen = (when: string | undefined) => [
    `DROP TRIGGER ${ident(t.triggerName)} ON ${table}`,
    `CREATE TRIGGER ${ident(t.triggerName)} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW ${when ? `WHEN (${when}) ` : ''}EXECUTE FUNCTION ${t.fnName}()`,
  ];
  const writerIsNew = `coalesce(nullif(current_setting('tandem.version', true), '') IN ('w1', 'public_w1'), 'public_w1' = ANY (current_schemas(false)))`;
  const body = (text: string) => `CREATE OR REPLACE FUNCTION ${t.fnName}() RETURNS trigger LANGUAGE plpgsql AS $v$${text}$v$`;
  const shipped = [t.fn, `DROP TRIGGER ${ident(t.triggerName)} ON ${table}`, t.trigger];
  const s = ident(SHADOW);
  const m = ident(MARKER_COLUMN);
  return {
    'trigger disabled': [...shipped, `ALTER TABLE ${table} DISABLE TRIGGER ${ident(t.triggerName)}`],
    'empty function, shipped trigger': [body('BEGIN RETURN NEW; END'), `DROP TRIGGER ${ident(t.triggerName)} ON ${table}`, t.trigger],
    'shipped function, fires on every update': [t.fn, ...withWhen(undefined)],
    'shipped function, every update, the earlier WHEN (direct-writer check)': [
      t.fn,
      ...withWhen(`current_setting('tandem.version', true) IS DISTINCT FROM '__tandem_backfill_direct'`),
    ],
    'hand-written minimal function, shipped trigger': [
      body(`BEGIN
  IF ${writerIsNew} THEN
    NEW.balance := CAST(NEW.${s} AS integer);
  ELSE
    NEW.${s} := CAST(NEW.balance AS bigint);
    NEW.note := upper(NEW.c3);
  END IF;
  NEW.${m} := true;
  RETURN NEW;
END`),
      `DROP TRIGGER ${ident(t.triggerName)} ON ${table}`,
      t.trigger,
    ],
    shipped,
  };
}

async function installed(client: pg.Client): Promise<Installed> {
  const r = await client.query<{ fn: string; trigger: string; tgname: string; fnname: string }>(
    `SELECT pg_get_functiondef(t.tgfoid) AS fn, pg_get_triggerdef(t.oid) AS trigger, t.tgname::text AS tgname, t.tgfoid::regproc::text AS fnname
       FROM pg_trigger t WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal`,
    [publicTable(TABLE)],
  );
  const row = r.rows[0]!;
  return { fn: row.fn, trigger: row.trigger, triggerName: row.tgname, fnName: row.fnname };
}

export async function runTriggerVariants(adminUrl: string, admin: pg.Client, o: VariantOptions): Promise<VariantResult> {
  const dbName = `bench_writes_${process.pid}_${randomBytes(3).toString('hex')}_v${o.columns}`;
  await admin.query(`CREATE DATABASE ${ident(dbName)} TEMPLATE template0`);
  const url = databaseUrlFor(adminUrl, dbName);
  const client = await connect(url, 'bench-writes');
  const cpuClient = await connect(url, 'bench-writes-cpu');
  try {
    o.log(`[${o.columns} columns] trigger variants: loading ${o.rows.toLocaleString('en-US')} rows, start…`);
    for (const sql of setupSql(o.columns, o.rows)) await client.query(sql);
    await start(client, benchMigration(), { lockTimeoutMs: 1_000, lockRetryForMs: 30_000 });
    await client.query(`VACUUM ANALYZE ${TABLE}`);
    const all = variants(await installed(client));
    const cpu: VariantResult['cpu'] = {};
    for (let round = 0; round < o.rounds; round++) {
      for (const [name, statements] of Object.entries(all)) {
        for (const sql of statements) await client.query(sql);
        for (const kind of o.workloads) {
          const w = { sql: workloadSql(kind, o.columns, TABLE, 'balance', true), searchPath: 'public', synchronousCommit: 'off' as const, keys: o.rows };
          const us = await serverCpuPerTransaction(cpuClient, w, o.transactions);
          if (us === undefined) throw new Error('--trigger-variants needs a server on this machine (it reads the backend CPU time from /proc)');
          const row = (cpu[name] ??= {});
          row[kind] = Math.min(row[kind] ?? Infinity, us);
        }
        await client.query(`VACUUM ${TABLE}`);
      }
      o.log(`  round ${round + 1}/${o.rounds} done`);
    }
    return { columns: o.columns, cpu };
  } finally {
    await client.end().catch(() => undefined);
    await cpuClient.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${ident(dbName)} WITH (FORCE)`);
  }
}

export function renderVariants(results: VariantResult[], workloads: WorkloadKind[], transactions: number, rounds: number): string {
  const out = [
    '# Where the sync trigger’s time goes',
    '',
    `Server CPU µs per one-row transaction (old version, synchronous_commit off; minimum of ${rounds} rounds of ${transactions.toLocaleString('en-US')}).`,
    '',
  ];
  const head = results.flatMap((r) => workloads.map((w) => `${r.columns} col. ${w}`));
  out.push(`| variant | ${head.join(' | ')} |`, `|---|${head.map(() => '---:').join('|')}|`);
  const names = Object.keys(results[0]?.cpu ?? {});
  for (const name of names) {
    const cells = results.flatMap((r) => workloads.map((w) => r.cpu[name]?.[w]?.toFixed(1) ?? 'n/a'));
    out.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  return out.join('\n');
}
