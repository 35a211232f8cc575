/**
 * One backfill measurement: a fresh database, a table of `rows` rows and `columns` columns loaded
 * with INSERT … SELECT generate_series, its twin, then
 *   baseline: on a twin, one `UPDATE twin SET new_col = lower(c1)` (no trigger), timed, before
 *             and (on a second twin) after Tandem's run, averaged;
 *   tandem:   `tandem start` (a child process) of an add_column with `up: lower(c1)`, the
 *             backfill step's own duration read from tandem.steps (done_at of the backfill step
 *             minus done_at of the expand step before it), peak RSS from /proc/<pid>/status VmHWM.
 * Both in the same run, so the ratio holds on a noisy machine.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { databaseUrlFor } from '../../src/db/connection.js';

export interface Case {
  rows: number;
  columns: number;
  workers: number;
  batchSize: number;
  /** VACUUM behind every this many % (0 = never). */
  vacuumBehind: number;
}

export interface Measurement extends Case {
  baselineSeconds: number;
  baselineRowsPerSecond: number;
  backfillSeconds: number;
  backfillRowsPerSecond: number;
  /** Tandem's backfill rate ÷ the one UPDATE's. */
  ratio: number;
  peakRssMb: number | null;
  heapBeforeMb: number;
  heapAfterMb: number;
  twinHeapAfterMb: number;
  /** WAL written by Tandem's start (backfill and its few DDL statements), and by the baseline UPDATE. */
  walMb: number;
  twinWalMb: number;
  /** Rows whose new column differs from lower(c1), or whose marker is not true: must be 0. */
  wrongRows: number;
}

const root = path.resolve(import.meta.dirname, '..', '..');
const mb = (bytes: string | number) => Math.round((Number(bytes) / 1024 / 1024) * 10) / 10;

function tableSql(name: string, rows: number, columns: number): string {
  const extra = Array.from({ length: Math.max(0, columns - 2) }, (_, i) => (i % 2 === 0 ? `c${i + 2} integer` : `c${i + 2} text`));
  const values = Array.from({ length: Math.max(0, columns - 2) }, (_, i) => (i % 2 === 0 ? `(g * ${i + 3}) % 100000` : `'v' || (g % ${97 + i})`));
  return `CREATE TABLE ${name} (id bigint PRIMARY KEY, c1 text${extra.length ? `, ${extra.join(', ')}` : ''});
          INSERT INTO ${name} SELECT g, 'Name ' || g${values.length ? `, ${values.join(', ')}` : ''} FROM generate_series(1, ${rows}) g;`;
}

async function walLsn(db: pg.Client): Promise<string> {
  return (await db.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0]!.lsn;
}

/** WAL bytes written since `lsn` (by the whole server: other databases' writes count too). */
async function walSince(db: pg.Client, lsn: string): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS n`, [lsn])).rows[0]!.n);
}

async function withDatabase<T>(adminUrl: string, fn: (url: string, client: pg.Client) => Promise<T>): Promise<T> {
  const name = `tandem_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  const url = databaseUrlFor(adminUrl, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(url, client);
  } finally {
    await client.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

/** Run the real CLI as a child process, sampling its peak resident set size. */
function runTandem(args: string[], url: string): Promise<{ code: number; stderr: string; peakRssKb: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'bin', 'tandem.js'), ...args], {
      env: { ...process.env, TANDEM_DATABASE_URL: url, DATABASE_URL: undefined } as NodeJS.ProcessEnv,
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let peak: number | null = null;
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak ?? 0, Number(m[1]));
      } catch {
        // gone, or no /proc (not Linux)
      }
    };
    const timer = setInterval(sample, 100);
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ code: code ?? 1, stderr, peakRssKb: peak });
    });
  });
}

export async function measure(adminUrl: string, c: Case, log: (line: string) => void = () => undefined): Promise<Measurement> {
  return withDatabase(adminUrl, async (url, db) => {
    log(`  loading 3 × ${c.rows.toLocaleString('en')} rows, ${c.columns} columns…`);
    await db.query(tableSql('items', c.rows, c.columns));
    await db.query(tableSql('twin', c.rows, c.columns));
    await db.query(tableSql('twin2', c.rows, c.columns));
    for (const t of ['items', 'twin', 'twin2']) await db.query(`VACUUM ANALYZE ${t}`);
    const heapBefore = (await db.query<{ s: string }>(`SELECT pg_relation_size('items')::text AS s`)).rows[0]!.s;

    // Baseline: one UPDATE of the same expression on a twin (a new column, no trigger), once
    // before and once after Tandem's run (on a second twin): their mean evens out the drift of a
    // shared machine.
    const baseline = async (twin: string) => {
      await db.query('CHECKPOINT').catch(() => undefined);
      await db.query(`ALTER TABLE ${twin} ADD COLUMN new_col text`);
      const lsn = await walLsn(db);
      const started = performance.now();
      await db.query(`UPDATE ${twin} SET new_col = lower(c1)`);
      const seconds = (performance.now() - started) / 1000;
      walBytes.push(await walSince(db, lsn));
      log(`  baseline UPDATE (${twin}): ${seconds.toFixed(2)} s`);
      return seconds;
    };
    const walBytes: number[] = [];
    const firstBaseline = await baseline('twin');
    const twinHeapAfter = (await db.query<{ s: string }>(`SELECT pg_relation_size('twin')::text AS s`)).rows[0]!.s;

    // Tandem: the same expression through a migration's backfill.
    await db.query('CHECKPOINT').catch(() => undefined);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bench-'));
    const file = path.join(dir, 'add_new_col.yaml');
    await writeFile(file, `operations:\n  - add_column:\n      table: items\n      column: { name: new_col, type: text }\n      up: lower(c1)\n`);
    const tandemLsn = await walLsn(db);
    const t0 = performance.now();
    const args = ['start', file, '--batch-size', String(c.batchSize), '--workers', String(c.workers), '--vacuum-behind', String(c.vacuumBehind), '--lock-timeout', '1000'];
    const run = await runTandem(args, url);
    await rm(dir, { recursive: true, force: true });
    if (run.code !== 0) throw new Error(`tandem start failed (exit ${run.code}): ${run.stderr}`);
    log(`  tandem start: ${((performance.now() - t0) / 1000).toFixed(2)} s (whole command)`);
    const tandemWal = await walSince(db, tandemLsn);

    const steps = await db.query<{ step_id: string; done_at: Date }>(`SELECT step_id, done_at FROM tandem.steps WHERE phase = 'start' ORDER BY step_index`);
    const bf = steps.rows.findIndex((s) => s.step_id.startsWith('backfill:'));
    if (bf < 1) throw new Error('no backfill step recorded');
    const backfillSeconds = (steps.rows[bf]!.done_at.getTime() - steps.rows[bf - 1]!.done_at.getTime()) / 1000;
    const heapAfter = (await db.query<{ s: string }>(`SELECT pg_relation_size('items')::text AS s`)).rows[0]!.s;
    const baselineSeconds = (firstBaseline + (await baseline('twin2'))) / 2;
    const wrong = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE new_col IS DISTINCT FROM lower(c1) OR _tandem_synced IS NOT TRUE`);
    return {
      ...c,
      baselineSeconds,
      baselineRowsPerSecond: c.rows / baselineSeconds,
      backfillSeconds,
      backfillRowsPerSecond: c.rows / backfillSeconds,
      ratio: baselineSeconds / backfillSeconds,
      peakRssMb: run.peakRssKb === null ? null : Math.round(run.peakRssKb / 102.4) / 10,
      heapBeforeMb: mb(heapBefore),
      heapAfterMb: mb(heapAfter),
      twinHeapAfterMb: mb(twinHeapAfter),
      wrongRows: wrong.rows[0]!.n,
      walMb: mb(tandemWal),
      twinWalMb: mb(walBytes[0]!),
    };
  });
}
