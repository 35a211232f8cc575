import type pg from 'pg';
import { connect, databaseUrlFor, redactUrl } from '../db/connection.js';
import { InvalidInputError } from '../errors.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../db/embedded.js';
import { complete, type EngineOptions, plan, rollback, start } from '../engine/lifecycle.js';
import { estimatePlan } from '../estimate/estimator.js';
import { type EstimateFacts, gatherEstimateFacts } from '../estimate/facts.js';
import type { Reporter } from '../exec/options.js';
import type { Migration } from '../migration/schema.js';
import { parseStoredPlan } from '../plan/plan-schema.js';
import type { Phase, Plan } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';
import { LockSampler, Recorder } from '../traffic/workload.js';
import { maxOf, percentile } from '../util/percentile.js';
import { buildCopy, type CopyReport } from './copy.js';
import { readSchemaSource, type SchemaSource } from './schema-copy.js';
import { startTraffic, TRAFFIC_APP_PREFIX, type TrafficClients, trafficTables, viewColumns } from './traffic.js';

/**
 * `tandem rehearse`: the migration(s) run for real on a scratch copy of the live schema, under
 * application traffic of both versions, with every step timed. The live database is only read
 * (its catalog and statistics, in read-only transactions). The scratch server is an embedded
 * PostgreSQL unless `scratchUrl` names one (then a database is created there and dropped after).
 *
 * Two runs on two identical copies (the second a template copy of the first, made before any
 * migration ran): start → complete of every file in order, and start → rollback (for a
 * directory, each file is rolled back after its start, then started and completed again so that
 * the next one finds the schema it expects). A fresh copy for the rollback run is fairer than a
 * rollback on the first copy: there the table would already carry the first run's dead rows.
 */

export interface RehearseOptions {
  liveUrl: string;
  schema: string;
  migrations: { file: string; migration: Migration }[];
  scale: number;
  scratchUrl: string | undefined;
  clientsPerVersion: number;
  /** Both versions live between start and complete (ms). */
  bothVersionsMs: number;
  engine: EngineOptions;
  log: (message: string) => void;
}

export interface StepTiming {
  step: number;
  id: string;
  description: string;
  lock: string;
  rowsTouched: number;
  seconds: number;
  /** Attempts that gave up on lock_timeout (audit log), and the time they waited in all. */
  lockTimeouts: number;
  lockWaitMs: number;
  /** Time of the attempt that succeeded (the step's locks are held for its transaction). */
  heldMs: number | null;
}

export interface PhaseTiming {
  migration: string;
  phase: Phase;
  seconds: number;
  steps: StepTiming[];
}

export interface TrafficSummary {
  clients: { old: number; new: number };
  statements: number;
  failedStatements: number;
  wrongResults: number;
  latencyMs: { p50: number; p99: number; max: number };
  worst: string;
  longestLockWait: { blocker: string; ms: number } | null;
  errors: string[];
}

export interface RunReport {
  name: 'start-complete' | 'start-rollback';
  phases: PhaseTiming[];
  traffic: TrafficSummary;
  error: string | null;
}

export interface RehearseReport {
  live: { server: string; schema: string };
  scratch: { server: string; embedded: boolean };
  scale: number;
  copy: CopyReport;
  runs: RunReport[];
  notes: string[];
}

const round = (n: number) => Math.round(n * 100) / 100;

export async function rehearse(opts: RehearseOptions): Promise<RehearseReport> {
  const { source, facts, liveServer } = await readLive(opts);
  // The first file is checked against the live schema before anything is copied (planning only
  // reads; its trials are rolled back). Later files of a directory may need what earlier ones
  // create: they are checked on the copy, when their turn comes.
  await withScratch(opts.liveUrl, (live) => plan(live, opts.migrations[0]!.migration, opts.engine));
  let server: EmbeddedServer | undefined;
  let adminUrl = opts.scratchUrl;
  if (!adminUrl) {
    opts.log('rehearse: starting an embedded PostgreSQL for the scratch copy');
    server = await startEmbeddedPostgres();
    adminUrl = server.url;
  }
  const names = [`tandem_rehearse_${process.pid}_a`, `tandem_rehearse_${process.pid}_b`];
  const admin = await connect(adminUrl, 'tandem-rehearse');
  try {
    for (const n of names) await admin.query(`DROP DATABASE IF EXISTS ${ident(n)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${ident(names[0]!)}`);
    const scratchServer = (await admin.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    const urlA = databaseUrlFor(adminUrl, names[0]!);
    const copy = await withScratch(urlA, (c) => buildCopy(c, source, facts, opts.scale, opts.log));
    // The second copy before anything ran on the first: identical rows, from the template.
    await admin.query(`CREATE DATABASE ${ident(names[1]!)} TEMPLATE ${ident(names[0]!)}`);
    const runs = [await runOn(urlA, 'start-complete', opts), await runOn(databaseUrlFor(adminUrl, names[1]!), 'start-rollback', opts)];
    return {
      live: { server: liveServer, schema: opts.schema },
      scratch: { server: server ? `PostgreSQL ${scratchServer} (embedded)` : `PostgreSQL ${scratchServer} at ${redactUrl(adminUrl)}`, embedded: server !== undefined },
      scale: opts.scale,
      copy,
      runs,
      notes: [
        'the copy has the live tables, keys, checks, foreign keys, indexes, enum types and sequences; not views, functions, triggers, policies, grants or other schemas',
        'the scratch database has no migration history: each file is planned as if it were the first (a previous version schema is not recreated)',
        ...(server ? ['the embedded server runs on this machine: its disk, memory and PostgreSQL version are not production’s; --scratch-url runs on a server like it'] : []),
      ],
    };
  } finally {
    for (const n of names) await admin.query(`DROP DATABASE IF EXISTS ${ident(n)} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await server?.stop();
  }
}

/** The live schema and its statistics, read-only. */
async function readLive(opts: RehearseOptions): Promise<{ source: SchemaSource; facts: EstimateFacts; liveServer: string }> {
  return withScratch(opts.liveUrl, async (live) => {
    await live.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    let source: SchemaSource;
    try {
      source = await readSchemaSource(live, opts.schema);
    } finally {
      await live.query('ROLLBACK');
    }
    const facts = await gatherEstimateFacts(live, { schema: opts.schema, tables: source.tables.map((t) => t.name), lockTimeoutMs: opts.engine.lockTimeoutMs ?? 50 });
    return { source, facts, liveServer: facts.serverVersion };
  });
}

async function withScratch<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url, 'tandem-rehearse');
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Step timings of one phase, from the reporter's step events (each step ends when the next begins). */
class StepClock {
  private marks: { description: string; at: number }[] = [];
  constructor(private readonly recorder: Recorder) {}

  reporter(log: (m: string) => void): Reporter {
    return {
      step: (_phase, description) => {
        this.marks.push({ description, at: performance.now() });
        this.recorder.step = description;
      },
      info: (m) => log(`  ${m}`),
      warn: (m) => log(`  warning: ${m}`),
      backfillProgress: () => undefined,
    };
  }

  /** Seconds of each step that ran, in order, the last ending at `end`. */
  take(end: number): { description: string; seconds: number }[] {
    const out = this.marks.map((m, i) => ({ description: m.description, seconds: ((this.marks[i + 1]?.at ?? end) - m.at) / 1000 }));
    this.marks = [];
    return out;
  }
}

async function runOn(url: string, name: RunReport['name'], opts: RehearseOptions): Promise<RunReport> {
  const runner = await connect(url, 'tandem');
  const sampler = await connect(url, 'tandem-rehearse-sampler');
  const recorder = new Recorder();
  const lockSampler = new LockSampler(sampler, recorder, 20, TRAFFIC_APP_PREFIX);
  const clock = new StepClock(recorder);
  const phases: PhaseTiming[] = [];
  const clients = { old: 0, new: 0 };
  let error: string | null = null;
  lockSampler.start();
  try {
    for (const [i, m] of opts.migrations.entries()) {
      opts.log(`rehearse (${name}): ${m.migration.name}`);
      const last = i === opts.migrations.length - 1;
      const measured = await rehearseOne(runner, url, m.migration, name, opts, recorder, clock, clients);
      phases.push(...measured);
      // A directory's rollback run: the file is applied again so that the next one finds its schema.
      if (name === 'start-rollback' && !last) {
        await start(runner, m.migration, { ...opts.engine, reporter: clock.reporter(() => undefined) });
        await complete(runner, { ...opts.engine, reporter: clock.reporter(() => undefined) });
        clock.take(performance.now());
      }
    }
  } catch (err) {
    // A file that does not fit the schema is invalid input (exit 2), not a failed rehearsal.
    if (err instanceof InvalidInputError) throw err;
    error = (err as Error).message;
    opts.log(`rehearse (${name}): failed: ${error}`);
  } finally {
    recorder.end();
    await lockSampler.stop();
    await sampler.end().catch(() => undefined);
    await runner.end().catch(() => undefined);
  }
  return { name, phases, traffic: summarize(recorder, clients), error };
}

/** One migration under traffic: old clients from the beginning, new ones once its version schema exists. */
async function rehearseOne(
  runner: pg.Client,
  url: string,
  migration: Migration,
  name: RunReport['name'],
  opts: RehearseOptions,
  recorder: Recorder,
  clock: StepClock,
  clients: { old: number; new: number },
): Promise<PhaseTiming[]> {
  const tables = await trafficTables(runner, opts.schema);
  // Rows each step touches: the tables as the migration finds them (exact counts, before its own row versions).
  const rows = await tableRows(runner, opts.schema);
  recorder.begin(`${migration.name} start`, opts.clientsPerVersion);
  const old = await startTraffic({ url, version: 'old', searchPath: opts.schema, tables, clients: opts.clientsPerVersion, recorder, thinkMs: 2 });
  clients.old = Math.max(clients.old, old.count);
  let fresh: TrafficClients | undefined;
  const out: PhaseTiming[] = [];
  try {
    const engine = { ...opts.engine, reporter: clock.reporter(opts.log) };
    const t0 = performance.now();
    const started = start(runner, migration, engine);
    // The new version joins as soon as its version schema exists (during the backfill or after it).
    const joining = joinNewVersion(url, migration, opts, recorder, started).then((r) => {
      fresh = r.clients;
      clients.new = Math.max(clients.new, r.clients?.count ?? 0);
    });
    await started;
    await joining;
    out.push(await phaseTiming(runner, rows, migration.name, 'start', clock.take(performance.now()), performance.now() - t0));
    recorder.begin(`${migration.name} both versions`, old.count + (fresh?.count ?? 0));
    await new Promise((res) => setTimeout(res, opts.bothVersionsMs));
    if (name === 'start-complete') {
      // Deploy done: the old instances are drained before the old shape is removed.
      await old.stop();
      recorder.begin(`${migration.name} complete`, fresh?.count ?? 0);
      const t1 = performance.now();
      await complete(runner, engine);
      out.push(await phaseTiming(runner, rows, migration.name, 'complete', clock.take(performance.now()), performance.now() - t1));
    } else {
      // Rolling back: the new instances go first (their version schema is dropped).
      await fresh?.stop();
      fresh = undefined;
      recorder.begin(`${migration.name} rollback`, old.count);
      const t1 = performance.now();
      await rollback(runner, engine);
      out.push(await phaseTiming(runner, rows, migration.name, 'rollback', clock.take(performance.now()), performance.now() - t1));
    }
    return out;
  } finally {
    await old.stop();
    await fresh?.stop();
  }
}

async function joinNewVersion(
  url: string,
  migration: Migration,
  opts: RehearseOptions,
  recorder: Recorder,
  started: Promise<unknown>,
): Promise<{ clients: TrafficClients | undefined; schema: string | undefined }> {
  const probe = await connect(url, 'tandem-rehearse-probe');
  let done = false;
  void started.finally(() => (done = true)).catch(() => undefined);
  try {
    for (;;) {
      const r = await probe
        .query<{ s: string }>(`SELECT version_schema AS s FROM tandem.migrations WHERE schema_name = $1 AND name = $2 ORDER BY id DESC LIMIT 1`, [opts.schema, migration.name])
        .catch(() => ({ rows: [] as { s: string }[] }));
      const schema = r.rows[0]?.s;
      const exists = schema ? (await probe.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema])).rowCount === 1 : false;
      if (schema && exists) {
        const views = await viewColumns(probe, schema);
        const tables = (await trafficTables(probe, opts.schema)).filter((t) => views.get(t.table)?.has(t.key) && views.get(t.table)?.has(t.updateColumn));
        const clients = await startTraffic({ url, version: 'new', searchPath: schema, tables, clients: opts.clientsPerVersion, recorder, thinkMs: 2 });
        return { clients, schema };
      }
      if (done) return { clients: undefined, schema: undefined };
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    await probe.end().catch(() => undefined);
  }
}

/** The phase's steps, with their locks and rows (from the stored plan) and lock waits (from the audit log). */
async function phaseTiming(
  runner: pg.Client,
  rows: EstimateFacts['tables'],
  migration: string,
  phase: Phase,
  ran: { description: string; seconds: number }[],
  ms: number,
): Promise<PhaseTiming> {
  const row = await runner.query<{ id: string; name: string; schema_name: string; plan: unknown }>(
    `SELECT id::text, name, schema_name, plan FROM tandem.migrations WHERE name = $1 ORDER BY id DESC LIMIT 1`,
    [migration],
  );
  const m = row.rows[0]!;
  const plan: Plan = parseStoredPlan(m.plan, m);
  const facts = await gatherEstimateFacts(runner, { schema: plan.schema, tables: [] });
  const shape = estimatePlan(plan, { ...facts, tables: rows }, undefined, { batchSize: 1 })[phase];
  const audit = await runner.query<{ step_id: string; outcome: string; ms: number }>(
    `SELECT step_id, outcome, duration_ms::float8 AS ms FROM tandem.audit_log WHERE migration_id = $1 AND phase = $2 ORDER BY id`,
    [m.id, phase],
  );
  const unused = [...ran];
  const steps = shape.steps.map((s): StepTiming => {
    // The reporter names each step as the plan describes it; a step that did not run took 0 s.
    const at = unused.findIndex((r) => r.description === s.description);
    const took = at >= 0 ? unused.splice(at, 1)[0]!.seconds : 0;
    const attempts = audit.rows.filter((a) => a.step_id === s.id);
    const waits = attempts.filter((a) => a.outcome === 'lock_timeout');
    const ok = attempts.find((a) => a.outcome === 'ok');
    return {
      step: s.step,
      id: s.id,
      description: s.description,
      lock: s.lock,
      rowsTouched: s.rowsTouched,
      seconds: round(took),
      lockTimeouts: waits.length,
      lockWaitMs: round(waits.reduce((t, a) => t + a.ms, 0)),
      heldMs: ok ? round(ok.ms) : null,
    };
  });
  return { migration, phase, seconds: round(ms / 1000), steps };
}

/** Every table of the schema with its exact row count. */
async function tableRows(client: pg.Client, schema: string): Promise<EstimateFacts['tables']> {
  const r = await client.query<{ table: string }>(
    `SELECT relname::text AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relkind = 'r'`,
    [schema],
  );
  const stats = (await gatherEstimateFacts(client, { schema, tables: r.rows.map((x) => x.table) })).tables;
  for (const t of stats) t.rows = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(schema, t.table)}`)).rows[0]!.n);
  return stats;
}

function summarize(recorder: Recorder, clients: { old: number; new: number }): TrafficSummary {
  const phases = recorder.phases;
  const latencies = phases.flatMap((p) => p.latencies);
  let worst = '';
  let worstMs = -1;
  for (const p of phases) {
    const m = p.max();
    if (m > worstMs) {
      worstMs = m;
      worst = p.worst;
    }
  }
  let lock: { blocker: string; ms: number } | null = null;
  for (const p of phases) {
    const l = p.longestLockWait();
    if (l && (!lock || l.ms > lock.ms)) lock = { blocker: l.blocker, ms: round(l.ms) };
  }
  return {
    clients,
    statements: phases.reduce((n, p) => n + p.statements, 0),
    failedStatements: phases.reduce((n, p) => n + p.failed, 0),
    wrongResults: phases.reduce((n, p) => n + p.wrong, 0),
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(maxOf(latencies)) },
    worst,
    longestLockWait: lock,
    errors: phases.flatMap((p) => p.errors).slice(0, 10),
  };
}
