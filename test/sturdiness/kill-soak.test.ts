/**
 * Randomized crash soak of the whole lifecycle under live traffic. Each round, on a fresh
 * database: old-version traffic (and new-version traffic once the version schema exists) from
 * the one traffic generator, plus a session that keeps grabbing a few rows FOR UPDATE; the real
 * CLI runs `start` (type change + NOT NULL with up/down, another NOT NULL, a rename) and is
 * SIGKILLed at a random moment, then run again until it exits 0; then `complete` or `rollback`,
 * killed once the same way and run again. At the end everything is read back from the database:
 * every acknowledged write in the final shape, no NULL in the NOT NULL columns, the migration's
 * final phase, no tandem leftovers, and after rollback the catalog exactly as before.
 *
 *   TANDEM_SOAK_SEED=1234 TANDEM_SOAK_ROUNDS=30 npm test -- test/sturdiness/kill-soak.test.ts
 *
 * The seed fixes every decision of the soak (batch size, when and how to kill, complete or
 * rollback); the traffic itself (src/traffic/workload.ts) and the timing are not deterministic.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type pg from 'pg';
import { Ledger, Partition, Recorder, type RunningClient, startClient, type TrafficShape, type Version, verifyTable } from '../../src/traffic/workload.js';
import { catalogSnapshot, notStateFunction } from '../helpers/catalog.js';
import type { TestDatabase } from '../helpers/db.js';
import { type CliRun, sleep, writeMigrationFile } from '../concurrency/support.js';
import { freshDatabase, hasStackTrace, killSpawned, migrations, runnerHolders, spawnCli, stateExists, waitFor } from './support.js';

const ROWS = 3_000;
const CLIENTS_PER_VERSION = 2;
const SEED = process.env['TANDEM_SOAK_SEED'] ? Number(process.env['TANDEM_SOAK_SEED']) : Math.floor(Math.random() * 2 ** 31);
const ROUNDS = process.env['TANDEM_SOAK_ROUNDS'] ? Number(process.env['TANDEM_SOAK_ROUNDS']) : 4;
/** How many times a command is run again after a kill before the soak calls it stranded. */
const MAX_RERUNS = 12;

/** mulberry32: a small seeded generator, one per round (seeded from the soak seed and the round). */
function rng(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (xs) => xs[Math.floor(next() * xs.length)]! };
}

/** The backfill walks the primary key, or a unique not-null key when there is none. */
const setup = (key: 'PRIMARY KEY' | 'NOT NULL UNIQUE') => `
  CREATE TABLE items (id bigint ${key}, code text, note text, label text NOT NULL);
  INSERT INTO items SELECT g, CASE WHEN g % 11 = 0 THEN NULL ELSE ((g * 7) % 1000)::text END,
                           CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END, 'L' || g
    FROM generate_series(1, ${ROWS}) g;
  ANALYZE items;`;

const migrationDoc = (name: string) => ({
  name,
  operations: [
    // A type change and NOT NULL in one, both directions.
    { alter_column: { table: 'items', column: 'code', type: 'integer', nullable: false, up: 'coalesce(CAST(code AS integer), -1)', down: 'CAST(code AS text)' } },
    { alter_column: { table: 'items', column: 'note', nullable: false, up: "coalesce(note, 'none')", down: 'note' } },
    { rename_column: { table: 'items', from: 'label', to: 'title' } },
  ],
});

/** The table in both versions' shapes; toNew/toOld mirror the migration's up/down. */
const shape: TrafficShape = {
  oldTable: 'items',
  newTable: 'items',
  oldColumns: [
    { name: 'code', gen: (g) => (g.n % 9 === 4 ? null : String((g.n * 13) % 5000)) },
    { name: 'note', gen: (g) => (g.n % 5 === 2 ? null : `o-${g.tag}`) },
    { name: 'label', gen: (g) => `ol-${g.tag}` },
  ],
  newColumns: [
    { name: 'code', gen: (g) => (g.n * 17) % 5000 },
    { name: 'note', gen: (g) => `n-${g.tag}` },
    { name: 'title', gen: (g) => `nt-${g.tag}` },
  ],
  toNew: (o) => ({ code: o['code'] === null ? -1 : Number(o['code']), note: o['note'] ?? 'none', title: o['label']! }),
  toOld: (n) => ({ code: String(n['code']), note: n['note']!, label: n['title']! }),
  // code and note are shadowed; label → title is a rename, nothing computes it.
  sync: { watched: { old: ['code', 'note'], new: ['code', 'note'] }, derived: { old: ['code', 'note'], new: ['code', 'note'] } },
  seedRow: (id) => ({ code: id % 11 === 0 ? null : String((id * 7) % 1000), note: id % 3 === 0 ? null : `n${id}`, label: `L${id}` }),
  appPrefix: 'soak-',
};

const dbs: TestDatabase[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  killSpawned();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  for (const d of dbs.splice(0)) await d.drop();
});

type Queryable = { query: (sql: string, params?: unknown[]) => Promise<pg.QueryResult> };

/** Traffic of both versions on one ledger: client slots 0..k-1 are old, k..2k-1 new, so each key has one writer. */
class Traffic {
  readonly ledger = new Ledger(shape, ROWS);
  readonly recorder = new Recorder();
  private readonly parts = Array.from({ length: 2 * CLIENTS_PER_VERSION }, (_, i) => new Partition(i, 2 * CLIENTS_PER_VERSION, ROWS));
  private readonly running: Record<Version, RunningClient[]> = { old: [], new: [] };

  constructor(private readonly db: TestDatabase) {
    this.recorder.begin('old only', CLIENTS_PER_VERSION);
  }

  async launch(version: Version, searchPath: string): Promise<void> {
    if (this.running[version].length > 0) return;
    const offset = version === 'old' ? 0 : CLIENTS_PER_VERSION;
    for (let i = 0; i < CLIENTS_PER_VERSION; i++) {
      const client = await this.db.connect(`${shape.appPrefix}${version}-${i}`);
      await client.query(`SET search_path TO ${searchPath}`);
      this.running[version].push(
        startClient({ client, version, shape, partition: this.parts[offset + i]!, ledger: this.ledger, recorder: this.recorder, thinkMs: 1, valid: true }),
      );
    }
  }

  isRunning(version: Version): boolean {
    return this.running[version].length > 0;
  }

  async stop(version: Version): Promise<void> {
    await Promise.all(this.running[version].splice(0).map((r) => r.stop()));
  }

  async stopAll(): Promise<void> {
    await this.stop('old');
    await this.stop('new');
    this.recorder.end();
  }

  problems(): string[] {
    const out: string[] = [];
    for (const p of this.recorder.phases) {
      if (p.failed > 0 || p.wrong > 0) out.push(`${p.name}: ${p.failed} failed, ${p.wrong} wrong: ${p.errors.join(' | ')}`);
    }
    return out;
  }
}

/** One session that keeps holding a few random rows FOR UPDATE for a short while; what it writes it rolls back. */
function startLocker(client: pg.Client, r: ReturnType<typeof rng>): { stop(): Promise<void>; held: () => number; errors: string[] } {
  let stopped = false;
  let held = 0;
  const errors: string[] = [];
  const plan = Array.from({ length: 1000 }, () => ({
    ids: Array.from({ length: r.int(1, 6) }, () => r.int(1, ROWS)),
    holdMs: r.next() < 0.2 ? r.int(200, 600) : r.int(10, 150),
    gapMs: r.int(20, 250),
    writeThenRollback: r.next() < 0.3,
  }));
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const step = plan[i % plan.length]!;
      try {
        await client.query('BEGIN');
        await client.query(`SELECT id FROM public.items WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE`, [step.ids]);
        held++;
        // Sometimes it also writes them, then rolls back: the write's trigger work must vanish with it.
        if (step.writeThenRollback) await client.query(`UPDATE public.items SET id = id WHERE id = ANY ($1::bigint[])`, [step.ids]);
        await sleep(step.holdMs);
        await client.query(step.writeThenRollback ? 'ROLLBACK' : 'COMMIT');
      } catch (err) {
        errors.push((err as Error).message);
        await client.query('ROLLBACK').catch(() => undefined);
      }
      await sleep(step.gapMs);
    }
  })();
  return {
    stop() {
      stopped = true;
      return done;
    },
    held: () => held,
    errors,
  };
}

interface Outcome {
  args: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  errorCode: string | undefined;
  stdout: string;
  stderr: string;
  killedBy?: string | undefined;
  /** An exit other than 0/1 that this run must give (rollback with nothing in progress: 2, not-in-progress). */
  expected?: { code: number; errorCode: string } | undefined;
}

/** Every run's outcome, checked at the end of the round (and printed on failure). */
class Runs {
  readonly all: Outcome[] = [];

  async finish(run: CliRun, args: string[], killedBy?: string, expected?: { code: number; errorCode: string }): Promise<Outcome> {
    const r = await run.done;
    let errorCode: string | undefined;
    try {
      errorCode = (JSON.parse(r.stdout) as { error?: { code?: string } }).error?.code;
    } catch {
      errorCode = undefined;
    }
    const o: Outcome = {
      args: args.join(' '),
      code: r.code,
      signal: r.signal,
      errorCode,
      stdout: r.stdout,
      stderr: r.stderr,
      killedBy: r.signal === 'SIGKILL' ? killedBy : undefined,
      expected,
    };
    this.all.push(o);
    return o;
  }

  problems(): string[] {
    const out: string[] = [];
    for (const o of this.all) {
      if (hasStackTrace(o.stdout) || hasStackTrace(o.stderr)) out.push(`${o.args}: printed a stack trace:\n${o.stderr}${o.stdout}`);
      const ok =
        o.code === 0 ||
        (o.code === 1 && o.errorCode !== undefined) ||
        (o.signal === 'SIGKILL' && o.killedBy !== undefined) ||
        (o.expected !== undefined && o.code === o.expected.code && o.errorCode === o.expected.errorCode);
      if (!ok) out.push(`${o.args}: exit ${o.code} signal ${o.signal} code ${o.errorCode}:\n${o.stderr}${o.stdout}`);
    }
    return out;
  }

  summary(): string {
    return this.all.map((o) => `${o.args.split(' ')[0]}=${o.signal ?? o.code}${o.errorCode ? `(${o.errorCode})` : ''}${o.killedBy ? `[kill ${o.killedBy}]` : ''}`).join(' ');
  }
}

/** Kill `run` once `probe` says so (polled), unless it exits first; says whether it was killed. */
async function killWhen(run: CliRun, probe: () => Promise<boolean>): Promise<boolean> {
  let exited = false;
  void run.done.then(() => (exited = true));
  while (!exited) {
    if (await probe().catch(() => false)) {
      if (exited) return false;
      run.child.kill('SIGKILL');
      return true;
    }
    await sleep(5);
  }
  return false;
}

async function checkpointKey(db: Queryable): Promise<number | undefined> {
  if (!(await stateExists(db))) return undefined;
  const r = await db.query(`SELECT last_key, done FROM tandem.backfill_checkpoints WHERE table_name = 'items' ORDER BY migration_id DESC LIMIT 1`);
  const row = r.rows[0] as { last_key: string[] | null; done: boolean } | undefined;
  if (!row) return undefined;
  if (row.done) return Number.MAX_SAFE_INTEGER;
  return row.last_key ? Number(row.last_key[0]) : 0;
}

async function stepsDone(db: Queryable, phase: string): Promise<number> {
  if (!(await stateExists(db))) return 0;
  const r = await db.query(`SELECT count(*)::int AS n FROM tandem.steps s JOIN tandem.migrations m ON m.id = s.migration_id WHERE s.phase = $1`, [phase]);
  return r.rows[0].n as number;
}

async function schemaExists(db: Queryable, name: string): Promise<boolean> {
  return (await db.query(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok`, [name])).rows[0].ok as boolean;
}

async function leftovers(db: Queryable, versionSchemaGone: string | undefined): Promise<string[]> {
  const r = await db.query(`
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname AS what FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND a.attname LIKE '\\_tandem%' AND NOT a.attisdropped
    UNION ALL SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
    UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conname LIKE '\\_tandem%'
    UNION ALL SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('public', 'tandem') AND ${notStateFunction()}
    UNION ALL SELECT 'invalid index ' || indexrelid::regclass FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid`);
  const out = r.rows.map((x) => x.what as string);
  if (versionSchemaGone && (await schemaExists(db, versionSchemaGone))) out.push(`version schema ${versionSchemaGone}`);
  return out;
}

type Finish = 'complete' | 'rollback';

async function soakRound(round: number, seed: number): Promise<string> {
  const r = rng(seed);
  const name = `soak_${round}`;
  const vs = `public_${name}`;
  const key = r.pick(['PRIMARY KEY', 'NOT NULL UNIQUE'] as const);
  const db = await freshDatabase(setup(key), dbs);
  const inspector = await db.connect('soak-inspector');
  const before = await catalogSnapshot(inspector);
  const file = writeMigrationFile(name, migrationDoc(name));
  const batchSize = r.pick([25, 50, 100, 200]);
  const batchDelay = r.pick([0, 2, 5, 10]);
  let finish: Finish = r.next() < 0.5 ? 'complete' : 'rollback';
  /** A complete killed before its point of no return may be followed by a rollback instead (README: run it again, or rollback). */
  const switchToRollback = r.next() < 0.5;
  const runs = new Runs();
  const traffic = new Traffic(db);
  cleanups.push(() => traffic.stopAll());
  const locker = startLocker(await db.connect('soak-locker'), rng(seed ^ 0x5eed));
  cleanups.push(() => locker.stop());
  await traffic.launch('old', 'public');

  // The new version is deployed the moment its version schema exists (and drained before a rollback).
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      if (!traffic.isRunning('new') && (await schemaExists(db, vs))) {
        traffic.recorder.begin('both versions', 2 * CLIENTS_PER_VERSION);
        await traffic.launch('new', vs);
        return;
      }
      await sleep(10);
    }
  })();
  cleanups.push(async () => {
    watching = false;
    await watcher;
  });

  /** A kill moment for any command: some time after it took the runner lock, or while it waits for a table lock. */
  const randomKill = (phase: string): { label: string; probe: () => Promise<boolean> } => {
    const kind = r.pick(['after-lock', 'lock-wait', 'statement', 'step'] as const);
    if (kind === 'after-lock') {
      const ms = r.int(0, 400);
      let since: number | undefined;
      return {
        label: `${ms}ms after the runner lock`,
        probe: async () => {
          if (since === undefined && (await runnerHolders(db)).length > 0) since = Date.now();
          return since !== undefined && Date.now() - since >= ms;
        },
      };
    }
    if (kind === 'lock-wait')
      return {
        label: 'while waiting for a lock',
        probe: async () =>
          (await db.query(`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tandem' AND wait_event_type = 'Lock') AS ok`))
            .rows[0].ok as boolean,
      };
    if (kind === 'statement') {
      const what = r.pick(['ALTER TABLE', 'CREATE', 'DROP', 'tandem.backfill', 'tandem.migrations', 'tandem.steps'] as const);
      return {
        label: `during a statement with ${what}`,
        probe: async () =>
          (
            await db.query(
              `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tandem' AND state = 'active' AND strpos(query, $1) > 0) AS ok`,
              [what],
            )
          ).rows[0].ok as boolean,
      };
    }
    // Steps of this migration: start 3 (expand, backfill, version schema), complete 3, rollback 2.
    const k = r.int(1, phase === 'rollback' ? 2 : 3);
    return { label: `${phase} step>=${k}`, probe: async () => (await stepsDone(db, phase)) >= k };
  };

  // Sometimes a short lock-retry budget, so that steps give up behind the row locker (exit 1, lock-timeout) and are run again.
  const lockArgs = r.next() < 0.3 ? ['--lock-retry-for', String(r.pick([100, 250, 500]))] : [];
  const common = ['--batch-size', String(batchSize), '--batch-delay', String(batchDelay), ...lockArgs, '--json'];
  const startArgs = ['start', file, ...common];

  // start, killed at a random moment.
  const startKill = r.pick(['delay', 'expand', 'checkpoint', 'version-schema', 'backfill-done', 'other'] as const);
  const startOther = randomKill('start');
  const killKey = r.int(1, ROWS);
  const delayMs = r.int(0, 2500);
  const t0 = Date.now();
  const startProbe: Record<typeof startKill, () => Promise<boolean>> = {
    delay: async () => Date.now() - t0 >= delayMs,
    expand: async () => (await stepsDone(db, 'start')) >= 1,
    checkpoint: async () => ((await checkpointKey(db)) ?? 0) >= killKey,
    'version-schema': () => schemaExists(db, vs),
    'backfill-done': async () => (await checkpointKey(db)) === Number.MAX_SAFE_INTEGER,
    other: startOther.probe,
  };
  const first = spawnCli(startArgs, db.url);
  const killed = await killWhen(first, startProbe[startKill]);
  let last = await runs.finish(
    first,
    startArgs,
    killed ? (startKill === 'other' ? startOther.label : `${startKill}${startKill === 'checkpoint' ? `>=${killKey}` : startKill === 'delay' ? ` ${delayMs}ms` : ''}`) : undefined,
  );
  /** Run `args` again until it exits 0; each re-run is itself killed with some probability (at most `extraKills` in all). */
  const converge = async (args: string[], phase: string, extraKills: number) => {
    for (let i = 0; last.code !== 0; i++) {
      assert.ok(i < MAX_RERUNS, `${args[0]} did not converge after ${MAX_RERUNS} runs: ${runs.summary()}\n${last.stderr}${last.stdout}`);
      // The killed runner's backend may outlive it for a moment.
      await waitFor('the killed runner to be gone', async () => (await runnerHolders(db)).length === 0, 15_000);
      const run = spawnCli(args, db.url);
      let how: string | undefined;
      if (extraKills > 0 && r.next() < 0.4) {
        extraKills--;
        const k = randomKill(phase);
        how = (await killWhen(run, k.probe)) ? k.label : undefined;
      }
      last = await runs.finish(run, args, how);
    }
  };
  // Sometimes the operator gives up on a start that died: rollback instead of running start again.
  const abandon = last.code !== 0 && r.next() < 0.25;
  let noMigrationRow = false;
  if (abandon) {
    finish = 'rollback';
    watching = false;
    await watcher;
    await traffic.stop('new');
    traffic.recorder.begin('rollback of a killed start', CLIENTS_PER_VERSION);
    await waitFor('the killed runner to be gone', async () => (await runnerHolders(db)).length === 0, 15_000);
    // Killed before it recorded the migration, there is nothing to roll back (and rollback says so).
    noMigrationRow = (await migrations(db)).length === 0;
    const rollbackArgs = ['rollback', ...lockArgs, '--json'];
    if (noMigrationRow) {
      // Nothing recorded: "nothing to roll back" (exit 0, when the killed start left an audit entry)
      // or nothing in progress at all (exit 2, not-in-progress); either way nothing may have changed.
      const o = await runs.finish(spawnCli(rollbackArgs, db.url), rollbackArgs, undefined, { code: 2, errorCode: 'not-in-progress' });
      assert.ok(o.code === 0 || (o.code === 2 && o.errorCode === 'not-in-progress'), `rollback with no migration recorded: exit ${o.code} ${o.errorCode}: ${o.stderr}${o.stdout}`);
    } else {
      last = await runs.finish(spawnCli(rollbackArgs, db.url), rollbackArgs);
      await converge(rollbackArgs, 'rollback', r.int(0, 1));
    }
  } else {
    await converge(startArgs, 'start', r.int(0, 2));
    assert.deepEqual(
      (await migrations(db)).map((m) => [m.name, m.phase]),
      [[name, 'active']],
      `after start: ${runs.summary()}`,
    );
    const nulls = await db.query(`SELECT count(*)::int AS n FROM ${vs}.items WHERE code IS NULL OR note IS NULL OR title IS NULL`);
    assert.equal(nulls.rows[0].n, 0, 'the new version sees no NULL in its NOT NULL columns after start');
    const unsynced = await db.query(`SELECT count(*)::int AS n FROM public.items WHERE _tandem_synced IS NOT TRUE`);
    assert.equal(unsynced.rows[0].n, 0, 'every row is in sync once start has exited 0');
    const skipped = await db.query(`SELECT count(*)::int AS n FROM tandem.backfill_skipped`);
    assert.equal(skipped.rows[0].n, 0, 'no skipped key is left once start has exited 0');
    // Let both versions run together for a moment (the watcher has seen the version schema by now).
    await waitFor('the new version to run', async () => traffic.isRunning('new'), 10_000);
    await sleep(r.int(50, 400));

    // complete or rollback, killed once at a random moment.
    if (finish === 'complete') await traffic.stop('old');
    else await traffic.stop('new');
    traffic.recorder.begin(finish, CLIENTS_PER_VERSION);
    const finishArgs = [finish, ...lockArgs, '--json'];
    const finishDelay = r.int(0, 900);
    let t1 = Date.now();
    const finishKill = r.next() < 0.3 ? { label: `delay ${finishDelay}ms`, probe: async () => Date.now() - t1 >= finishDelay } : randomKill(finish);
    t1 = Date.now();
    const second = spawnCli(finishArgs, db.url);
    const killed2 = await killWhen(second, finishKill.probe);
    last = await runs.finish(second, finishArgs, killed2 ? finishKill.label : undefined);
    if (finish === 'complete' && last.code !== 0 && switchToRollback) {
      await waitFor('the killed runner to be gone', async () => (await runnerHolders(db)).length === 0, 15_000);
      const contracted = (await db.query(`SELECT EXISTS (SELECT 1 FROM tandem.steps WHERE phase = 'complete' AND step_id = 'contract') AS ok`)).rows[0].ok as boolean;
      if (!contracted) {
        // The new deploy is rolled back after all: its instances drain, the old ones come back.
        finish = 'rollback';
        await traffic.stop('new');
        traffic.recorder.begin('rollback after a killed complete', CLIENTS_PER_VERSION);
        await traffic.launch('old', 'public');
        const rollbackArgs = ['rollback', ...lockArgs, '--json'];
        last = await runs.finish(spawnCli(rollbackArgs, db.url), rollbackArgs);
        await converge(rollbackArgs, 'rollback', r.int(0, 1));
      }
    }
    await converge([finish, ...lockArgs, '--json'], finish, r.int(0, 1));
  }
  await sleep(r.int(50, 300));

  watching = false;
  await watcher;
  await locker.stop();
  await traffic.stopAll();

  // What the database holds.
  const problems: string[] = [...runs.problems(), ...traffic.problems(), ...locker.errors.map((e) => `locker: ${e}`)];
  const phases = (await migrations(db)).map((m) => [m.name, m.phase]);
  const wantPhase = finish === 'complete' ? 'completed' : 'rolled_back';
  if (JSON.stringify(phases) !== JSON.stringify(noMigrationRow ? [] : [[name, wantPhase]])) problems.push(`migrations ${JSON.stringify(phases)}, want ${name} ${wantPhase}`);
  const verify =
    finish === 'complete'
      ? await verifyTable(inspector, 'items', shape.newColumns, traffic.ledger, 'new')
      : await verifyTable(inspector, 'items', shape.oldColumns, traffic.ledger, 'old');
  if (verify.wrong || verify.missing || verify.unexpected) problems.push(`verify: ${JSON.stringify(verify)}`);
  if (finish === 'complete') {
    const n = await inspector.query(`SELECT count(*)::int AS n FROM public.items WHERE code IS NULL OR note IS NULL`);
    if (n.rows[0].n !== 0) problems.push(`${n.rows[0].n} rows with a NULL in a NOT NULL column`);
    const cols = await inspector.query(
      `SELECT attname::text AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS nn FROM pg_attribute
        WHERE attrelid = 'public.items'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    // Swapped columns take the shadow's place at the end: compare the set, not the order.
    const got = cols.rows
      .map((c) => `${c.name} ${c.type}${c.nn ? ' not null' : ''}`)
      .sort()
      .join(', ');
    const want = 'code integer not null, id bigint not null, note text not null, title text not null';
    if (got !== want) problems.push(`final columns: ${got}; want ${want}`);
    if (!(await schemaExists(db, vs))) problems.push(`version schema ${vs} is gone after complete`);
  }
  problems.push(...(await leftovers(inspector, finish === 'rollback' ? vs : undefined)).map((l) => `leftover: ${l}`));
  if (finish === 'rollback') {
    const after = await catalogSnapshot(inspector);
    try {
      assert.deepEqual(after, before);
    } catch (err) {
      problems.push(`catalog after rollback differs from before: ${(err as Error).message.slice(0, 3000)}`);
    }
  }
  const line = `round ${round} seed ${seed}: ${key}, batch ${batchSize}/${batchDelay}ms${lockArgs.length ? ` ${lockArgs.join(' ')}` : ''}, ends ${finish}${abandon ? ' (start abandoned)' : ''}; ${runs.summary()}; ${verify.acknowledgedWrites} writes, ${locker.held()} row locks`;
  assert.deepEqual(problems, [], line);
  // The round's database goes now, not at the end of the file.
  killSpawned();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  for (const d of dbs.splice(0)) await d.drop();
  return line;
}

test(`kill -9 soak of start / complete / rollback under live traffic (seed ${SEED}, ${ROUNDS} rounds)`, { timeout: 60_000 + ROUNDS * 45_000 }, async () => {
  console.log(`kill soak: TANDEM_SOAK_SEED=${SEED} TANDEM_SOAK_ROUNDS=${ROUNDS}`);
  for (let round = 0; round < ROUNDS; round++) {
    // Each round's seed is printed, so a failing round is re-run alone: TANDEM_SOAK_SEED=<it> TANDEM_SOAK_ROUNDS=1 (round 0 uses the seed itself).
    const seed = round === 0 ? SEED : rng(SEED + round).int(0, 2 ** 31 - 1);
    try {
      console.log(await soakRound(round, seed));
    } catch (err) {
      console.log(`round ${round} seed ${seed} FAILED; run it alone: TANDEM_SOAK_SEED=${seed} TANDEM_SOAK_ROUNDS=1`);
      if (err instanceof Error) err.message = `round ${round} seed ${seed}: ${err.message}`;
      throw err;
    }
  }
});
