/**
 * The zero-downtime benchmark: for each operation, on a fresh copy of an N-row table,
 * application clients on the old and on the new version run while start → backfill → complete
 * runs, and again while start → rollback runs; the same clients with no migration give the
 * baseline, and the plain statement the operation replaces is timed under the same clients.
 * See bench/zdt/main.ts for the command line and bench/zdt/RESULTS.md for results.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { connect, databaseUrlFor, redactUrl } from '../../src/db/connection.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/db/embedded.js';
import { ident } from '../../src/sql/ident.js';
import { initStateSchema } from '../../src/state/store.js';
import { catalogDiff, catalogSnapshot } from './catalog.js';
import type { EngineMessage, EngineWorkerData } from './engine-worker.js';
import { afterSeedSql, findScenarios, type PlainKind, type Scenario, schemaSql, seedSql } from './scenarios.js';
import { Ledger, LockSampler, Partition, type PhaseStats, Recorder, type RunningClient, startClient, type VerifyResult, verifyTable, type Version } from './workload.js';

export type Direction = 'complete' | 'rollback';

export interface BenchOptions {
  /** A server to create scratch databases on; default: an embedded PostgreSQL. */
  databaseUrl?: string | undefined;
  rows: number;
  /** Operation keys (scenarios.ts); default all. */
  ops?: string[] | undefined;
  clientsPerVersion: number;
  thinkMs: number;
  /** Baseline duration at each client count (clientsPerVersion, then twice that). */
  baselineSeconds: number;
  /** Both versions live between start and complete/rollback. */
  bothSeconds: number;
  /** Clients keep running this long after complete/rollback returns (counted in that phase). */
  afterSeconds: number;
  /**
   * Shortest window of the start and complete/rollback phases: when the engine is faster, the
   * clients run on (old version only after start; after complete/rollback) until it is reached.
   */
  minPhaseSeconds: number;
  directions: Direction[];
  /** Time the plain statement each operation replaces. */
  plain: boolean;
  /** Engine knobs; unset = the engine's defaults (lock timeout is never changed here). */
  batchSize?: number | undefined;
  batchDelayMs?: number | undefined;
  workers?: number | undefined;
  log: (line: string) => void;
}

export const defaultOptions: BenchOptions = {
  rows: 1_000_000,
  clientsPerVersion: 2,
  thinkMs: 1,
  baselineSeconds: 3,
  bothSeconds: 3,
  afterSeconds: 0.5,
  minPhaseSeconds: 1,
  directions: ['complete', 'rollback'],
  plain: true,
  log: (line) => process.stderr.write(`${line}\n`),
};

export interface PhaseResult {
  name: string;
  clients: number;
  seconds: number;
  statements: number;
  failed: number;
  wrong: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  perSecond: number;
  /** Throughput of the baseline with as many clients, and this phase's ratio to it. */
  baselinePerSecond: number | null;
  ratio: number | null;
  errors: string[];
  /** The slowest statement and the engine step running when it started. */
  worst: string;
  /** The longest lock wait of a client the sampler saw, and behind whom. */
  lockWait?: { blocker: string; ms: number };
  /** The longest a client statement was seen in the server not waiting for a lock, and on what. */
  serverWait?: { event: string; ms: number };
  /** Autovacuum work seen during the phase. */
  autovacuum: string[];
  /** What the engine warned about (e.g. a step waiting for a lock, and who holds it). */
  warnings: string[];
  /** Longest event-loop delay of the benchmark process (its own CPU starvation). */
  loopDelayMaxMs: number;
}

export interface DirectionResult {
  direction: Direction;
  /** Baseline phases first, then start, both, complete|rollback. */
  phases: PhaseResult[];
  startSeconds: number;
  finishSeconds: number;
  verify?: VerifyResult;
  /** drop_table after complete: the table is gone, as it should be. */
  tableDropped?: boolean;
  /** Rollback only. */
  catalogIdentical?: boolean;
  catalogDiff: string[];
  /** Complete only: tandem objects left behind (shadow columns, triggers, invalid indexes…). */
  leftovers: string[];
  /** Complete only: where the final schema differs from what the operation must produce. */
  shapeProblems: string[];
  kinds: Record<string, number>;
  error?: string;
}

export interface PlainResult {
  kind: PlainKind;
  sql: string;
  /** How long the statement (its transaction) took. */
  statementMs: number;
  /** Worst client latency during the plain run, and p99 while it ran. */
  maxMs: number;
  p99Ms: number;
  statements: number;
  /** Old-version statements that failed after it (renames, drops break the old version). */
  failed: number;
  /** The longest lock wait of a client behind it (or anything else), as the sampler saw it. */
  lockWait?: { blocker: string; ms: number };
  error?: string;
}

export interface OpResult {
  key: string;
  title: string;
  directions: DirectionResult[];
  plain?: PlainResult;
  /** Over the start, both and complete/rollback phases of both directions. */
  tandemMaxMs: number;
  tandemP99Ms: number;
  /** The same over the baseline phases (no migration), for comparison. */
  baselineMaxMs: number;
  baselineP99Ms: number;
  /** The slowest statement during tandem's phases and the engine step running then. */
  worst: string;
  /** 1-minute load average of the machine when the operation started and ended. */
  load: [number, number];
  failed: number;
  wrong: number;
  minRatio: number | null;
  /** plain max ÷ tandem max, for plain statements that rewrite, scan or build. */
  stallRatio: number | null;
  seconds: number;
}

export interface BenchResult {
  server: string;
  rows: number;
  options: Omit<BenchOptions, 'log' | 'databaseUrl'>;
  startedAt: string;
  seconds: number;
  loadSeconds: number;
  /** Machine: CPUs and 1-minute load average at start and end (other work on the machine skews timings). */
  machine: { cpus: number; load: [number, number] };
  ops: OpResult[];
}

const TANDEM_PHASES = new Set(['start', 'both', 'complete', 'rollback']);

function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Tandem's engine in a worker thread (engine-worker.ts), as in production where it is its own
 * process: the clients' pauses (GC, a busy event loop) do not hold it up inside its transactions.
 */
class EngineThread {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private pending: { resolve: (m: EngineMessage & { type: 'done' }) => void; reject: (e: Error) => void } | undefined;
  private lastQuarter = -1;
  private exited = false;
  private readonly exit: Promise<void>;

  constructor(data: EngineWorkerData, log: (s: string) => void, prefix: string, onStep: (step: string) => void, onWarn: (message: string) => void) {
    this.worker = new Worker(new URL('./engine-worker.mjs', import.meta.url), { workerData: data });
    let readyResolve: () => void = () => undefined;
    let readyReject: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (m: EngineMessage) => {
      if (m.type === 'ready') readyResolve();
      else if (m.type === 'step') {
        onStep(m.step);
        log(`${prefix} ${m.step}`);
      } else if (m.type === 'warn') {
        onWarn(m.message);
        log(`${prefix} warning: ${m.message}`);
      } else if (m.type === 'backfill') {
        const quarter = Math.floor((m.done / Math.max(m.estimated, m.done, 1)) * 4);
        if (m.finished) {
          log(`${prefix}   backfill ${m.table}: ${m.done} rows`);
          this.lastQuarter = -1;
        } else if (quarter !== this.lastQuarter) {
          this.lastQuarter = quarter;
          log(`${prefix}   backfill ${m.table}: ${m.done}/${m.estimated} rows`);
        }
      } else if (m.type === 'done') this.pending?.resolve(m);
      else if (m.type === 'failed') this.pending?.reject(new Error(m.message));
    });
    const fail = (e: Error) => {
      readyReject(e);
      this.pending?.reject(e);
    };
    this.worker.on('error', fail);
    this.exit = new Promise<void>((res) =>
      this.worker.once('exit', (code) => {
        this.exited = true;
        fail(new Error(`the engine thread exited (code ${code})`));
        res();
      }),
    );
  }

  async run(action: 'start' | 'complete' | 'rollback'): Promise<{ seconds: number; versionSchema?: string }> {
    await this.ready;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage({ action });
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    this.worker.postMessage({ action: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await this.exit;
    clearTimeout(timer);
  }
}

/** Everything one run shares: the server, the template database, the options. */
class Bench {
  private seq = 0;
  readonly prefix = `zdt_${process.pid}_${randomBytes(3).toString('hex')}`;
  readonly template = `${this.prefix}_template`;
  fileCopy = false;

  constructor(
    readonly opts: BenchOptions,
    readonly adminUrl: string,
    readonly admin: pg.Client,
  ) {}

  engine(url: string, scenario: Scenario, prefix: string, onStep: (step: string) => void, onWarn: (message: string) => void): EngineThread {
    const data: EngineWorkerData = {
      url,
      migration: { name: `zdt_${scenario.key}`, operations: scenario.operations },
      ...(this.opts.batchSize !== undefined ? { batchSize: this.opts.batchSize } : {}),
      ...(this.opts.batchDelayMs !== undefined ? { batchDelayMs: this.opts.batchDelayMs } : {}),
      ...(this.opts.workers !== undefined ? { workers: this.opts.workers } : {}),
    };
    return new EngineThread(data, this.opts.log, prefix, onStep, onWarn);
  }

  /** The starting data, loaded once; each run gets a copy (CREATE DATABASE … TEMPLATE). */
  async loadTemplate(): Promise<void> {
    const { rows, log } = this.opts;
    const num = Number((await this.admin.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
    // FILE_COPY (15+) copies a large template faster than WAL-logging every block; a small one
    // is cheaper WAL-logged (FILE_COPY checkpoints, which is slow on a server with fsync on).
    this.fileCopy = num >= 150000 && rows > 100_000;
    await this.admin.query(`CREATE DATABASE ${ident(this.template)}`);
    const c = await connect(databaseUrlFor(this.adminUrl, this.template), 'zdt-load');
    try {
      for (const sql of schemaSql) await c.query(sql);
      const chunk = 250_000;
      for (let from = 1; from <= rows; from += chunk) {
        const to = Math.min(rows, from + chunk - 1);
        await c.query(seedSql(from, to));
        if (rows > chunk) log(`  loaded ${to.toLocaleString('en-US')} / ${rows.toLocaleString('en-US')} rows`);
      }
      for (const sql of afterSeedSql) await c.query(sql);
      // The state schema exists before start, so that the rollback catalog comparison covers
      // the sync trigger functions tandem creates in it.
      await initStateSchema(c);
      await c.query('VACUUM ANALYZE');
    } finally {
      await c.end();
    }
    await this.admin.query(`ALTER DATABASE ${ident(this.template)} WITH ALLOW_CONNECTIONS false`);
  }

  async cloneDatabase(): Promise<{ name: string; url: string }> {
    const name = `${this.prefix}_${++this.seq}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.admin.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(this.template)}${this.fileCopy ? ' STRATEGY FILE_COPY' : ''}`);
        break;
      } catch (err) {
        // "source database is being accessed by other users" (e.g. autovacuum): try again.
        if ((err as { code?: string }).code !== '55006' || attempt >= 50) throw err;
        await sleep(200);
      }
    }
    return { name, url: databaseUrlFor(this.adminUrl, name) };
  }

  async dropDatabase(name: string): Promise<void> {
    await this.admin.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`).catch(() => undefined);
  }
}

/** Connections and running clients of one run, all closed by close(). */
class Clients {
  readonly conns: pg.Client[] = [];
  readonly running = new Set<RunningClient>();

  constructor(readonly url: string) {}

  async open(name: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.url, application_name: name });
    c.on('error', () => undefined);
    await c.connect();
    this.conns.push(c);
    return c;
  }

  launch(...args: Parameters<typeof startClient>): RunningClient {
    const r = startClient(...args);
    this.running.add(r);
    return r;
  }

  async stop(list: RunningClient[]): Promise<void> {
    await Promise.all(list.map((r) => r.stop()));
    for (const r of list) this.running.delete(r);
  }

  async close(): Promise<void> {
    await this.stop([...this.running]);
    await Promise.all(this.conns.map((c) => c.end().catch(() => undefined)));
  }
}

function phaseResult(s: PhaseStats, baseline: Map<number, number>): PhaseResult {
  const perSecond = s.seconds > 0 ? s.statements / s.seconds : 0;
  const base = s.clients > 0 ? (baseline.get(s.clients) ?? null) : null;
  return {
    name: s.name,
    clients: s.clients,
    seconds: s.seconds,
    statements: s.statements,
    failed: s.failed,
    wrong: s.wrong,
    p50Ms: s.percentile(50),
    p99Ms: s.percentile(99),
    maxMs: s.max(),
    perSecond,
    baselinePerSecond: base,
    ratio: base && !s.name.startsWith('baseline') ? perSecond / base : null,
    errors: s.errors,
    worst: s.worst,
    autovacuum: [...s.autovacuum],
    warnings: s.warnings,
    loopDelayMaxMs: s.loopDelayMaxMs,
    ...(s.longestLockWait() ? { lockWait: s.longestLockWait()! } : {}),
    ...(s.longestOtherWait() ? { serverWait: s.longestOtherWait()! } : {}),
  };
}

async function leftovers(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ what: string }>(`
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname AS what FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attname LIKE '\\_tandem%' AND NOT a.attisdropped
    UNION ALL SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
    UNION ALL SELECT 'invalid index ' || indexrelid::regclass FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid
    UNION ALL SELECT 'not validated constraint ' || conname FROM pg_constraint
     WHERE connamespace = 'public'::regnamespace AND NOT convalidated
    UNION ALL SELECT 'relation ' || relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname LIKE '\\_tandem%'
    UNION ALL SELECT 'function tandem.' || proname FROM pg_proc WHERE pronamespace = 'tandem'::regnamespace AND proname <> 'use_version'`);
  return r.rows.map((x) => x.what);
}

/** The final schema against the scenario's FinalShape. */
async function checkFinal(c: pg.Client, scenario: Scenario): Promise<string[]> {
  const f = scenario.final;
  const problems: string[] = [];
  const table = scenario.finalTable;
  if (table) {
    const cols = await c.query<{ attname: string; def: string }>(
      `SELECT attname, format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END AS def
         FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
      [`public.${table}`],
    );
    const byName = new Map(cols.rows.map((r) => [r.attname, r.def]));
    for (const [name, want] of Object.entries(f.columns ?? {})) {
      const got = byName.get(name) ?? null;
      if (got !== want) problems.push(`column ${table}.${name}: ${got ?? 'absent'}, want ${want ?? 'absent'}`);
    }
    if (f.replicaIdentity) {
      const r = await c.query<{ r: string }>(`SELECT relreplident AS r FROM pg_class WHERE oid = to_regclass($1)`, [`public.${table}`]);
      if (r.rows[0]?.r !== f.replicaIdentity) problems.push(`replica identity ${r.rows[0]?.r}, want ${f.replicaIdentity}`);
    }
  }
  const objects = async (name: string) =>
    (
      await c.query<{ what: string; ok: boolean }>(
        `SELECT 'constraint' AS what, convalidated AS ok FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conname = $1
         UNION ALL SELECT 'index', indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace AND c.relname = $1
         UNION ALL SELECT 'relation', true FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname = $1 AND relkind IN ('r', 'p', 'v')`,
        [name],
      )
    ).rows;
  for (const name of f.present ?? []) {
    const found = await objects(name);
    if (found.length === 0) problems.push(`${name} is missing`);
    for (const o of found) if (!o.ok) problems.push(`${o.what} ${name} is not valid`);
  }
  for (const name of f.absent ?? []) for (const o of await objects(name)) problems.push(`${o.what} ${name} should be gone`);
  return problems;
}

async function runDirection(bench: Bench, scenario: Scenario, direction: Direction): Promise<DirectionResult> {
  const { opts } = bench;
  const prefix = `  [${scenario.key} → ${direction}]`;
  const db = await bench.cloneDatabase();
  const clients = new Clients(db.url);
  const c = opts.clientsPerVersion;
  const parts = Array.from({ length: 2 * c }, (_, i) => new Partition(i, 2 * c, opts.rows));
  const ledger = new Ledger(scenario, opts.rows);
  const rec = new Recorder();
  const result: DirectionResult = { direction, phases: [], startSeconds: 0, finishSeconds: 0, catalogDiff: [], leftovers: [], shapeProblems: [], kinds: rec.kinds };
  const runner = await connect(db.url, 'bench-check');
  const engine = bench.engine(
    db.url,
    scenario,
    prefix,
    (step) => (rec.step = step),
    (message) => rec.current.warnings.push(message),
  );
  const sampler = new LockSampler(await clients.open('bench-lock-sampler'), rec);
  const launch = (conn: pg.Client, version: Version, p: Partition) =>
    clients.launch({ client: conn, version, scenario, partition: p, ledger, recorder: rec, thinkMs: opts.thinkMs, valid: false });
  try {
    const before = direction === 'rollback' ? await catalogSnapshot(runner) : undefined;
    const oldConns = await Promise.all(parts.slice(0, c).map((p) => clients.open(`zdt-old-${p.index}`)));
    const extraConns = await Promise.all(parts.slice(c).map((p) => clients.open(`zdt-baseline-${p.index}`)));
    const newConns = scenario.newTable ? await Promise.all(parts.slice(c).map((p) => clients.open(`zdt-new-${p.index}`))) : [];

    sampler.start();
    rec.begin('baseline', c);
    const old = oldConns.map((conn, i) => launch(conn, 'old', parts[i]!));
    await sleep(opts.baselineSeconds * 1000);
    rec.begin('baseline', 2 * c);
    const extra = extraConns.map((conn, i) => launch(conn, 'old', parts[c + i]!));
    await sleep(opts.baselineSeconds * 1000);
    await clients.stop(extra);

    rec.begin('start', c);
    rec.step = 'start';
    const t0 = performance.now();
    const started = await engine.run('start');
    result.startSeconds = started.seconds;
    rec.step = 'start done, old version only';
    // A start shorter than the minimum window still gets one, so that its throughput means something.
    await sleep(Math.max(0, opts.minPhaseSeconds * 1000 - (performance.now() - t0)));
    // The new version is deployed the moment its version schema exists.
    for (const conn of newConns) await conn.query(`SET search_path TO ${ident(started.versionSchema!)}`);
    rec.step = 'both versions, no tandem step';
    rec.begin('both', c + newConns.length);
    const fresh = newConns.map((conn, i) => launch(conn, 'new', parts[c + i]!));
    await sleep(opts.bothSeconds * 1000);

    if (direction === 'complete') {
      // Deploy done: the old instances are drained before the old shape is removed.
      await clients.stop(old);
      rec.begin('complete', fresh.length);
      const t = performance.now();
      result.finishSeconds = (await engine.run('complete')).seconds;
      rec.step = 'after complete';
      await sleep(Math.max(opts.afterSeconds * 1000, opts.minPhaseSeconds * 1000 - (performance.now() - t)));
      await clients.stop(fresh);
    } else {
      // The new deploy is rolled back: its instances are drained first.
      await clients.stop(fresh);
      rec.begin('rollback', c);
      const t = performance.now();
      result.finishSeconds = (await engine.run('rollback')).seconds;
      rec.step = 'after rollback';
      await sleep(Math.max(opts.afterSeconds * 1000, opts.minPhaseSeconds * 1000 - (performance.now() - t)));
      await clients.stop(old);
    }
    await sampler.stop();
    rec.end();

    if (direction === 'complete') {
      if (scenario.finalTable === null) {
        result.tableDropped = (await runner.query(`SELECT to_regclass('public.items') IS NULL AS gone`)).rows[0].gone as boolean;
      } else {
        result.verify = await verifyTable(runner, scenario.finalTable, scenario.newColumns, ledger, 'new');
      }
      result.leftovers = await leftovers(runner);
      result.shapeProblems = await checkFinal(runner, scenario);
    } else {
      result.verify = await verifyTable(runner, 'items', scenario.oldColumns, ledger, 'old');
      result.catalogDiff = catalogDiff(before!, await catalogSnapshot(runner));
      result.catalogIdentical = result.catalogDiff.length === 0;
    }
  } catch (err) {
    result.error = (err as Error).message;
    opts.log(`${prefix} ERROR: ${result.error}`);
    rec.end();
  } finally {
    await sampler.stop();
    await clients.close();
    await engine.close();
    await runner.end().catch(() => undefined);
    await bench.dropDatabase(db.name);
  }
  const baseline = new Map<number, number>();
  for (const p of rec.phases) if (p.name === 'baseline' && p.seconds > 0) baseline.set(p.clients, p.statements / p.seconds);
  result.phases = rec.phases.map((p) => phaseResult(p, baseline));
  return result;
}

/** The plain statement under the same old-version clients, on another copy of the table. */
async function runPlain(bench: Bench, scenario: Scenario): Promise<PlainResult> {
  const { opts } = bench;
  const db = await bench.cloneDatabase();
  const clients = new Clients(db.url);
  const n = 2 * opts.clientsPerVersion;
  const parts = Array.from({ length: n }, (_, i) => new Partition(i, n, opts.rows));
  const ledger = new Ledger(scenario, opts.rows);
  const rec = new Recorder();
  const runner = await connect(db.url, 'plain-migration');
  const sampler = new LockSampler(await clients.open('bench-lock-sampler'), rec);
  const result: PlainResult = { kind: scenario.plain.kind, sql: scenario.plain.sql.join('; '), statementMs: 0, maxMs: 0, p99Ms: 0, statements: 0, failed: 0 };
  try {
    for (const sql of scenario.plain.prepare ?? []) await runner.query(sql);
    const conns = await Promise.all(parts.map((p) => clients.open(`zdt-plain-${p.index}`)));
    sampler.start();
    const warm = rec.begin('warm', n);
    rec.step = 'before the plain statement';
    conns.forEach((conn, i) => clients.launch({ client: conn, version: 'old', scenario, partition: parts[i]!, ledger, recorder: rec, thinkMs: opts.thinkMs, valid: true }));
    await sleep(500);
    const during = rec.begin('plain', n);
    rec.step = 'the plain statement';
    const t = performance.now();
    try {
      await runner.query('BEGIN');
      for (const sql of scenario.plain.sql) await runner.query(sql);
      await runner.query('COMMIT');
    } catch (err) {
      await runner.query('ROLLBACK').catch(() => undefined);
      result.error = (err as Error).message;
    }
    result.statementMs = performance.now() - t;
    rec.step = 'after the plain statement';
    await sleep(300);
    await sampler.stop();
    await clients.close();
    rec.end();
    const waits = [warm.longestLockWait(), during.longestLockWait()].filter((w) => w !== undefined);
    if (waits.length) result.lockWait = waits.reduce((a, b) => (b.ms > a.ms ? b : a));
    result.maxMs = Math.max(warm.max(), during.max());
    result.p99Ms = during.percentile(99);
    result.statements = during.statements;
    result.failed = during.failed;
  } finally {
    await sampler.stop();
    await clients.close();
    await runner.end().catch(() => undefined);
    await bench.dropDatabase(db.name);
  }
  return result;
}

function summarize(scenario: Scenario, directions: DirectionResult[], plain: PlainResult | undefined, seconds: number, load: [number, number]): OpResult {
  const tandem = directions.flatMap((d) => d.phases.filter((p) => TANDEM_PHASES.has(p.name)));
  const baseline = directions.flatMap((d) => d.phases.filter((p) => p.name === 'baseline'));
  const all = directions.flatMap((d) => d.phases);
  const tandemMaxMs = Math.max(0, ...tandem.map((p) => p.maxMs));
  const worstPhase = tandem.find((p) => p.maxMs === tandemMaxMs);
  const ratios = tandem.map((p) => p.ratio).filter((r): r is number => r !== null);
  const stallRatio = plain && !plain.error && ['rewrite', 'scan', 'build'].includes(plain.kind) && tandemMaxMs > 0 ? plain.maxMs / tandemMaxMs : null;
  return {
    key: scenario.key,
    title: scenario.title,
    directions,
    ...(plain ? { plain } : {}),
    tandemMaxMs,
    tandemP99Ms: Math.max(0, ...tandem.map((p) => p.p99Ms)),
    baselineMaxMs: Math.max(0, ...baseline.map((p) => p.maxMs)),
    baselineP99Ms: Math.max(0, ...baseline.map((p) => p.p99Ms)),
    worst: worstPhase ? `${worstPhase.worst} (${directions.find((d) => d.phases.includes(worstPhase))?.direction})` : '',
    load,
    failed: all.reduce((s, p) => s + p.failed, 0),
    wrong: all.reduce((s, p) => s + p.wrong, 0),
    minRatio: ratios.length ? Math.min(...ratios) : null,
    stallRatio,
    seconds,
  };
}

export async function runBenchmark(options: Partial<BenchOptions> = {}): Promise<BenchResult> {
  const opts: BenchOptions = { ...defaultOptions, ...options };
  const scenarios = findScenarios(opts.ops);
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const load0 = os.loadavg()[0]!;
  let server: EmbeddedServer | undefined;
  let adminUrl = opts.databaseUrl;
  if (!adminUrl) {
    opts.log('starting an embedded PostgreSQL…');
    server = await startEmbeddedPostgres();
    adminUrl = server.url;
  }
  const admin = await connect(adminUrl, 'zdt-admin');
  const bench = new Bench(opts, adminUrl, admin);
  try {
    const version = (await admin.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    const serverLabel = server ? `PostgreSQL ${version} (embedded)` : `PostgreSQL ${version} at ${redactUrl(adminUrl)}`;
    opts.log(`server: ${serverLabel}`);
    opts.log(`loading ${opts.rows.toLocaleString('en-US')} rows into the template database…`);
    const tl = performance.now();
    await bench.loadTemplate();
    const loadSeconds = (performance.now() - tl) / 1000;
    opts.log(`loaded in ${fmtS(loadSeconds * 1000)}`);

    const ops: OpResult[] = [];
    for (const [i, scenario] of scenarios.entries()) {
      const ts = performance.now();
      const load0 = os.loadavg()[0]!;
      opts.log(`[${i + 1}/${scenarios.length}] ${scenario.key}: ${scenario.title}`);
      const directions: DirectionResult[] = [];
      for (const direction of opts.directions) directions.push(await runDirection(bench, scenario, direction));
      let plain: PlainResult | undefined;
      if (opts.plain) {
        plain = await runPlain(bench, scenario).catch((err: Error) => ({
          kind: scenario.plain.kind,
          sql: scenario.plain.sql.join('; '),
          statementMs: 0,
          maxMs: 0,
          p99Ms: 0,
          statements: 0,
          failed: 0,
          error: err.message,
        }));
      }
      const op = summarize(scenario, directions, plain, (performance.now() - ts) / 1000, [load0, os.loadavg()[0]!]);
      ops.push(op);
      const ledgerOk = directions.every((d) => d.tableDropped || (d.verify && d.verify.wrong + d.verify.missing + d.verify.unexpected === 0));
      opts.log(
        `  => ${scenario.key}: failed ${op.failed}, wrong ${op.wrong}, max ${op.tandemMaxMs.toFixed(1)} ms, p99 ${op.tandemP99Ms.toFixed(1)} ms, ` +
          `min throughput ${op.minRatio === null ? '-' : `${op.minRatio.toFixed(2)}×`}, ledger ${ledgerOk ? 'ok' : 'MISMATCH'}` +
          `${plain ? `, plain max ${plain.maxMs.toFixed(1)} ms (${plain.kind})` : ''} — ${fmtS(op.seconds * 1000)}, load ${op.load.map((l) => l.toFixed(1)).join('→')}`,
      );
      opts.log(`     slowest: ${op.worst}; baseline max ${op.baselineMaxMs.toFixed(1)} ms`);
    }
    const { log: _log, databaseUrl: _url, ...rest } = opts;
    return {
      server: serverLabel,
      rows: opts.rows,
      options: rest,
      startedAt,
      seconds: (performance.now() - t0) / 1000,
      loadSeconds,
      machine: { cpus: os.cpus().length, load: [load0, os.loadavg()[0]!] },
      ops,
    };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${ident(bench.template)}`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await server?.stop();
  }
}
