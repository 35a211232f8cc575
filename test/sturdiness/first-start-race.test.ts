/**
 * Defect 4 of issue 7: two first `tandem start`s on a fresh database (no state schema yet) raced
 * on creating the state schema, and one failed with a raw duplicate-key error and a stack trace.
 * The runner lock (advisory, needs no schema) is taken before state is created, and creating the
 * state is safe against runners of other schemas doing it at the same time.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { TestDatabase } from '../helpers/db.js';
import { writeMigrationFile } from '../concurrency/support.js';
import type pg from 'pg';
import { plan, start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { stateSchemaDdl } from '../../src/state/schema-ddl.js';
import { cli, type CliOutcome, freshDatabase, hasStackTrace, killSpawned, migrations, spawnCli, waitFor } from './support.js';

const PAIRS = 16;
const SETUP = `
  CREATE SCHEMA other;
  CREATE TABLE public.users (id integer PRIMARY KEY, name text);
  CREATE TABLE other.users (id integer PRIMARY KEY, name text);
  INSERT INTO public.users SELECT g, 'u' || g FROM generate_series(1, 200) g;
  INSERT INTO other.users SELECT g, 'u' || g FROM generate_series(1, 200) g;`;

const file = writeMigrationFile('r1_shout', {
  name: 'r1_shout',
  operations: [{ add_column: { table: 'users', up: 'upper(name)', column: { name: 'shout', type: 'text', nullable: true } } }],
});

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop();
});

function describeRun(r: CliOutcome): string {
  return `exit ${r.code}, error code ${r.errorCode ?? '-'}: ${r.stderr.slice(0, 600)}`;
}

/** Exit 0, or 1 because the other runner held the lock; never a raw database error or a stack trace. */
function assertCleanOutcome(r: CliOutcome, pair: number): void {
  assert.ok(!hasStackTrace(r.stderr), `pair ${pair}: no stack trace: ${describeRun(r)}`);
  assert.ok(r.code === 0 || (r.code === 1 && r.errorCode === 'runner-busy'), `pair ${pair}: ${describeRun(r)}`);
}

test(`${PAIRS} pairs of concurrent first starts on fresh databases: each exits 0 or runner-busy, never a raw database error`, { timeout: 300_000 }, async () => {
  const outcomes: string[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    const db = await freshDatabase(SETUP, dbs);
    const [a, b] = await Promise.all([cli(['start', file], db.url), cli(['start', file], db.url)]);
    assertCleanOutcome(a, pair);
    assertCleanOutcome(b, pair);
    assert.ok(a.code === 0 || b.code === 0, `pair ${pair}: one of them started the migration: ${describeRun(a)} / ${describeRun(b)}`);
    assert.deepEqual(
      (await migrations(db)).map((m) => [m.name, m.phase]),
      [['r1_shout', 'active']],
    );
    outcomes.push(`${a.code}${b.code}`);
    await db.drop();
    dbs.splice(dbs.indexOf(db), 1);
  }
  console.log(`# first-start pairs (exit codes): ${outcomes.join(' ')}`);
});

test(`${PAIRS} pairs with --wait: both exit 0 and exactly one migration row exists`, { timeout: 300_000 }, async () => {
  for (let pair = 0; pair < PAIRS; pair++) {
    const db = await freshDatabase(SETUP, dbs);
    const [a, b] = await Promise.all([cli(['start', file, '--wait'], db.url), cli(['start', file, '--wait'], db.url)]);
    for (const r of [a, b]) {
      assert.ok(!hasStackTrace(r.stderr), `pair ${pair}: ${describeRun(r)}`);
      assert.equal(r.code, 0, `pair ${pair}: ${describeRun(r)}`);
    }
    assert.equal((await migrations(db)).length, 1, `pair ${pair}`);
    await db.drop();
    dbs.splice(dbs.indexOf(db), 1);
  }
});

test('first starts on two schemas of a fresh database at once (different runner locks): both exit 0', { timeout: 300_000 }, async () => {
  for (let pair = 0; pair < PAIRS / 2; pair++) {
    const db = await freshDatabase(SETUP, dbs);
    const [a, b] = await Promise.all([cli(['start', file], db.url), cli(['start', file, '--schema', 'other'], db.url)]);
    for (const r of [a, b]) {
      assert.ok(!hasStackTrace(r.stderr), `pair ${pair}: ${describeRun(r)}`);
      assert.equal(r.code, 0, `pair ${pair}: ${describeRun(r)}`);
    }
    assert.deepEqual(
      (await migrations(db)).map((m) => m.phase),
      ['active', 'active'],
    );
    await db.drop();
    dbs.splice(dbs.indexOf(db), 1);
  }
});

/**
 * The deterministic form of the race: another runner (of another schema, so not excluded by the
 * runner lock) is creating the state schema when this start gets there. This start has already
 * looked for the state schema (so its session caches "no schema tandem"); it must wait for the
 * other creation and then find the state schema made, not fail on a duplicate key.
 */
test('a start that reaches state creation while another runner is creating it: exit 0, no duplicate key', { timeout: 60_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const db = await freshDatabase(SETUP, dbs);
    const other = await db.connect('other-schema-runner');
    await other.query('BEGIN');
    await other.query(`SELECT pg_advisory_xact_lock(hashtext('tandem:init'))`);
    for (const sql of stateSchemaDdl) await other.query(sql);

    const run = spawnCli(['start', file, '--json'], db.url);
    await waitFor(
      'the start to wait for the other creation',
      async () =>
        (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tandem' AND wait_event = 'advisory'`)).rows[0]
          .n > 0,
      30_000,
    );
    await other.query('COMMIT');
    const r = await run.done;
    assert.ok(!hasStackTrace(r.stderr), `round ${round}: ${r.stderr}`);
    assert.equal(r.code, 0, `round ${round}: ${r.stderr}`);
    assert.deepEqual(
      (await migrations(db)).map((m) => [m.name, m.phase]),
      [['r1_shout', 'active']],
    );
    await db.drop();
    dbs.splice(dbs.indexOf(db), 1);
  }
});

/** Count the trial statements (EXPLAIN …) a client sends, by watching its queries go by. */
function countTrials(client: pg.Client): { count: () => number; reset: () => void } {
  let n = 0;
  const send = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : first?.text;
    if (typeof text === 'string' && /^\s*EXPLAIN\b/i.test(text)) n++;
    return send(...args);
  };
  return { count: () => n, reset: () => void (n = 0) };
}

test('start plans once, on a fresh database too (the trials run once)', async () => {
  const db = await freshDatabase(SETUP, dbs);
  const client = await db.connect('counting');
  const trials = countTrials(client);
  const migration = parseMigration(
    { name: 'r2_once', operations: [{ alter_column: { table: 'users', column: 'name', type: 'varchar(40)', up: 'name', down: 'name' } }] },
    undefined,
  );
  await plan(client, migration);
  const perPlan = trials.count();
  assert.ok(perPlan > 0, 'planning runs trials');
  trials.reset();
  await start(client, migration, { batchSize: 100 });
  assert.equal(trials.count(), perPlan, 'start on a database without the state schema plans once');
});

test('while another runner holds the lock, an invalid file still gets exit 2 (and a valid one runner-busy), nothing created', { timeout: 60_000 }, async () => {
  const db = await freshDatabase(SETUP, dbs);
  const holder = await db.connect('deploy-bot');
  await holder.query(`SELECT pg_advisory_lock(${0x7a4d}, hashtext('tandem:public'))`);
  const invalid = writeMigrationFile('r3_bad', { name: 'r3_bad', operations: [{ drop_column: { table: 'nope', column: 'x' } }] });
  const bad = await cli(['start', invalid], db.url);
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(bad.errorCode, 'table-not-found');
  const busy = await cli(['start', file], db.url);
  assert.equal(busy.code, 1, busy.stderr);
  assert.equal(busy.errorCode, 'runner-busy');
  assert.equal((await db.query(`SELECT to_regnamespace('tandem') IS NULL AS none`)).rows[0].none, true, 'no state schema');
});
