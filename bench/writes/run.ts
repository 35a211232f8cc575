/**
 * One table size of the write-cost benchmark: phases measured in a fixed order on one scratch
 * database, every throughput compared with the same workload before `start` in the same run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, databaseUrlFor } from '../../src/db/connection.js';
import { start } from '../../src/engine/lifecycle.js';
import { ident } from '../../src/sql/ident.js';
import { serverCpuPerTransaction } from './cpu.js';
import type { Driver, Workload } from './driver.js';
import { tableStats, type TableStats, watchAutovacuum } from './stats.js';
import { benchMigration, publicTable, REFERENCE, referenceSql, SHADOW, setupSql, TABLE, TWIN, twinSql, VERSION_SCHEMA, type WorkloadKind, workloadSql } from './table.js';

export interface RunOptions {
  rows: number;
  columns: number;
  clients: number;
  seconds: number;
  workloads: WorkloadKind[];
  batchSize: number;
  synchronousCommit: 'on' | 'off';
  /** Transactions of the server-CPU measurement per phase (0: none). */
  cpuTransactions: number;
  /** A fillfactor set on the table just before `start` (an experiment: Tandem does not set one). */
  fillfactor: number | undefined;
  driver: Driver;
  log: (line: string) => void;
}

/** One measured phase. */
export interface Phase {
  /** What was measured, e.g. "active, old version". */
  label: string;
  workload: WorkloadKind;
  tps: number;
  /** The untouched reference copy, same workload, measured just before. */
  referenceTps: number;
  /** Server CPU µs per transaction of the same statement (undefined: not measured, or the server is not local). */
  cpuMicros: number | undefined;
  /** Share of the phase's updates that were HOT (undefined for inserts). */
  hot: number | undefined;
  heapMB: number;
  deadTuples: number;
  autovacuumSeen: boolean;
}

export interface SizeResult {
  columns: number;
  rows: number;
  server: string;
  autovacuum: string;
  synchronousCommit: string;
  backfillSeconds: number;
  fillfactor: number | undefined;
  heapMB: { before: number; afterBackfill: number; afterVacuum: number };
  phases: Phase[];
}

/** Where and as whom a workload runs. */
interface Target {
  table: string;
  searchPath: string;
  balance?: string;
  /** Inserts write the columns the sync trigger would fill (it is not there, or disabled). */
  asTrigger?: boolean;
}

const OLD: Target = { table: TABLE, searchPath: 'public' };
const NEW_VIEW: Target = { table: TABLE, searchPath: VERSION_SCHEMA };
/** The new version writing the table itself (the sync trigger sees the version schema on its search_path). */
const NEW_DIRECT: Target = { table: publicTable(TABLE), searchPath: `${VERSION_SCHEMA},public`, balance: SHADOW };
const TWIN_TARGET: Target = { table: TWIN, searchPath: 'public', asTrigger: true };
const OLD_NO_TRIGGER: Target = { ...OLD, asTrigger: true };
const REFERENCE_TARGET: Target = { table: REFERENCE, searchPath: 'public' };

const MB = 1024 * 1024;

export async function runSize(adminUrl: string, admin: pg.Client, o: RunOptions): Promise<SizeResult> {
  const dbName = `bench_writes_${process.pid}_${randomBytes(3).toString('hex')}_${o.columns}`;
  await admin.query(`CREATE DATABASE ${ident(dbName)} TEMPLATE template0`);
  const url = databaseUrlFor(adminUrl, dbName);
  const client = await connect(url, 'bench-writes');
  const watcher = await connect(url, 'bench-writes-watch');
  const cpuClient = await connect(url, 'bench-writes-cpu');
  try {
    o.log(`[${o.columns} columns] loading ${o.rows.toLocaleString('en-US')} rows…`);
    for (const sql of setupSql(o.columns, o.rows)) await client.query(sql);
    for (const sql of [...twinSql(), ...referenceSql()]) await client.query(sql);
    for (const t of [TABLE, TWIN, REFERENCE]) await client.query(`VACUUM ANALYZE ${t}`);
    await client.query('CHECKPOINT').catch(() => undefined);
    const settings = (await client.query<{ v: string; av: string }>(`SELECT current_setting('server_version') AS v, current_setting('autovacuum') AS av`)).rows[0]!;

    const phases: Phase[] = [];
    const workload = (kind: WorkloadKind, target: Target): Workload => ({
      sql: workloadSql(kind, o.columns, target.table, target.balance, target.asTrigger),
      searchPath: target.searchPath,
      synchronousCommit: o.synchronousCommit,
      keys: o.rows,
    });
    const run = (kind: WorkloadKind, target: Target) => o.driver.run(url, workload(kind, target), o.clients, o.seconds);
    const measure = async (label: string, kind: WorkloadKind, target: Target, table = TABLE, alongside?: () => void): Promise<Phase> => {
      const referenceTps = await run(kind, REFERENCE_TARGET);
      alongside?.();
      const before = await tableStats(client, table);
      const watch = watchAutovacuum(watcher, table);
      const tps = await run(kind, target);
      const cpuMicros = o.cpuTransactions > 0 ? await serverCpuPerTransaction(cpuClient, workload(kind, target), o.cpuTransactions) : undefined;
      const autovacuumSeen = await watch.stop();
      const after = await tableStats(client, table);
      const phase = {
        label,
        workload: kind,
        tps,
        referenceTps,
        cpuMicros,
        hot: hotShare(before, after),
        heapMB: after.heapBytes / MB,
        deadTuples: after.deadTuples,
        autovacuumSeen,
      };
      phases.push(phase);
      const hot = phase.hot === undefined ? '' : `  HOT ${(phase.hot * 100).toFixed(0)}%`;
      const cpu = cpuMicros === undefined ? '' : `  server CPU ${cpuMicros.toFixed(1)} µs/tx`;
      o.log(`  ${label.padEnd(52)} ${kind.padEnd(13)} ${tps.toFixed(0).padStart(7)} tx/s (reference ${referenceTps.toFixed(0).padStart(7)})${cpu}${hot}`);
      return phase;
    };
    const each = async (label: string, target: Target, table = TABLE) => {
      for (const kind of o.workloads) await measure(label, kind, target, table);
    };

    const heapBefore = (await tableStats(client, TABLE)).heapBytes / MB;
    await each('before start', OLD);
    await each('twin: extra columns, no trigger', TWIN_TARGET, TWIN);

    o.log(`[${o.columns} columns] start (backfill of ${o.rows.toLocaleString('en-US')} rows)…`);
    if (o.fillfactor !== undefined) await client.query(`ALTER TABLE ${TABLE} SET (fillfactor = ${o.fillfactor})`);
    const t0 = performance.now();
    await start(client, benchMigration(), { batchSize: o.batchSize, lockTimeoutMs: 1_000, lockRetryForMs: 30_000 });
    const backfillSeconds = (performance.now() - t0) / 1000;
    const heapAfterBackfill = (await tableStats(client, TABLE)).heapBytes / MB;
    o.log(`  start took ${backfillSeconds.toFixed(1)} s; heap ${heapBefore.toFixed(0)} → ${heapAfterBackfill.toFixed(0)} MB`);

    await each('active, old version', OLD);
    await each('active, new version (view)', NEW_VIEW);
    await each('active, new version (table, no view)', NEW_DIRECT);
    await triggerOnOff(client, each, 'active');

    if (settings.av === 'on') {
      await client.query(`ALTER TABLE ${TABLE} SET (autovacuum_enabled = off)`);
      await each('active, autovacuum off for the table', OLD);
      await client.query(`ALTER TABLE ${TABLE} RESET (autovacuum_enabled)`);
    }

    // A VACUUM running beside the workload (what autovacuum does after the backfill, unthrottled).
    const vacuumer = await connect(url, 'bench-writes-vacuum');
    let vacuum: Promise<unknown> = Promise.resolve();
    await measure('active, VACUUM running', o.workloads[0]!, OLD, TABLE, () => (vacuum = vacuumer.query(`VACUUM ${TABLE}`)));
    await vacuum;
    await vacuumer.end();
    const heapAfterVacuum = (await tableStats(client, TABLE)).heapBytes / MB;

    await each('active after VACUUM, old version', OLD);
    await each('active after VACUUM, new version (view)', NEW_VIEW);
    await triggerOnOff(client, each, 'active after VACUUM');

    return {
      columns: o.columns,
      rows: o.rows,
      server: settings.v,
      autovacuum: settings.av,
      synchronousCommit: o.synchronousCommit,
      backfillSeconds,
      fillfactor: o.fillfactor,
      heapMB: { before: heapBefore, afterBackfill: heapAfterBackfill, afterVacuum: heapAfterVacuum },
      phases,
    };
  } finally {
    await client.end().catch(() => undefined);
    await watcher.end().catch(() => undefined);
    await cpuClient.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${ident(dbName)} WITH (FORCE)`);
  }
}

/** The sync trigger disabled, then enabled again (the bench only: rows written meanwhile are not synced). */
async function triggerOnOff(client: pg.Client, each: (label: string, t: Target) => Promise<void>, when: string): Promise<void> {
  const r = await client.query<{ tgname: string }>(`SELECT tgname::text FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [publicTable(TABLE)]);
  const names = r.rows.map((x) => x.tgname);
  const all = (verb: string) => Promise.all(names.map((n) => client.query(`ALTER TABLE ${publicTable(TABLE)} ${verb} TRIGGER ${ident(n)}`)));
  await all('DISABLE');
  await each(`${when}, old version, trigger disabled`, OLD_NO_TRIGGER);
  await all('ENABLE');
  await each(`${when}, old version, trigger enabled again`, OLD);
}

function hotShare(before: TableStats, after: TableStats): number | undefined {
  const updates = after.updates - before.updates;
  return updates > 0 ? (after.hotUpdates - before.hotUpdates) / updates : undefined;
}
