/**
 * A long transaction holds a lock on the table while `start` runs. Tandem's ALTER must never
 * make application queries queue behind it for longer than the lock timeout, and must give up
 * cleanly (naming the blocker) when the blocker outlasts the retry budget.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type pg from 'pg';
import { complete, rollback, start } from '../../src/engine/lifecycle.js';
import { LockTimeoutError } from '../../src/errors.js';
import { parseMigration } from '../../src/migration/load.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { killSpawned, migrationPhase, percentile, sleep, spawnCli, waitFor, writeMigrationFile } from './support.js';

const ROWS = 2_000;
const LOCK_TIMEOUT = 50;
/** What an application query may wait on top of the lock timeout (scheduling on a busy 2-core box). */
const MARGIN = 150;

const doc = (name: string) => ({
  name,
  operations: [{ alter_column: { table: 'accounts', column: 'balance', type: 'bigint', up: 'balance::bigint * 100', down: '(balance / 100)::integer' } }],
});

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
  await db.query(`CREATE TABLE accounts (id integer PRIMARY KEY, balance integer NOT NULL DEFAULT 0, note text)`);
  await db.query(`INSERT INTO accounts SELECT g, g % 500, 'a' || g FROM generate_series(1, ${ROWS}) g`);
});
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  killSpawned();
  for (const c of cleanups.splice(0)) await c();
  await db?.drop();
});

interface Traffic {
  /** at: client clock when sent; ms: round trip seen by the client; waited: time the server spent before executing it (lock waits). */
  samples: Sample[];
  errors: string[];
  stop(): Promise<void>;
}

/** Short reads and writes on the table in a loop, as the old application version does. */
interface Sample {
  at: number;
  ms: number;
  waited: number;
  op: string;
}

const WAITED = `(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::float8`;

async function appTraffic(clients: number): Promise<Traffic> {
  const samples: Sample[] = [];
  const errors: string[] = [];
  let stopping = false;
  const conns = await Promise.all(Array.from({ length: clients }, (_, i) => db.connect(`app-${i}`)));
  const loops = conns.map(async (c, i) => {
    for (let n = i; !stopping; n++) {
      const id = 1 + Math.floor(Math.random() * ROWS);
      const op = n % 2 === 0 ? 'select' : 'update';
      const t0 = performance.now();
      try {
        // Simple protocol (no parameters): statement_timestamp() is when the server received the
        // query, clock_timestamp() is evaluated once its table and row locks are held, so the
        // difference is what the query waited, free of the test process's own scheduling delays.
        const r =
          op === 'select'
            ? await c.query(`SELECT balance, note, ${WAITED} AS waited FROM accounts WHERE id = ${id}`)
            : await c.query(`UPDATE accounts SET note = 'app${n}' WHERE id = ${id} RETURNING ${WAITED} AS waited`);
        samples.push({ at: t0, ms: performance.now() - t0, waited: r.rows[0].waited, op });
      } catch (err) {
        errors.push((err as Error).message);
      }
      await sleep(2);
    }
  });
  const stop = async () => {
    stopping = true;
    await Promise.all(loops);
  };
  cleanups.push(stop);
  return { samples, errors, stop };
}

/** A session that read the table and keeps its transaction open: it holds ACCESS SHARE until it ends. */
async function openBlocker(): Promise<{ client: pg.Client; pid: number }> {
  const client = await db.connect('long-report');
  await client.query('BEGIN');
  await client.query('SELECT count(*) FROM accounts');
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return { client, pid };
}

async function lockTimeoutAttempts(): Promise<number> {
  const r = await db.query(`SELECT count(*)::int AS n FROM tandem.audit_log WHERE outcome = 'lock_timeout'`).catch(() => ({ rows: [{ n: 0 }] }));
  return r.rows[0].n;
}

function assertNoLongStall(traffic: Traffic, label: string): { max: number; p99: number; n: number; clientMax: number } {
  assert.deepEqual(traffic.errors, [], `${label}: application queries failed`);
  assert.ok(traffic.samples.length > 100, `${label}: enough application queries ran (${traffic.samples.length})`);
  const waited = traffic.samples.map((s) => s.waited);
  const max = Math.max(...waited);
  const t0 = traffic.samples[0]!.at;
  const slow = traffic.samples
    .filter((s) => s.waited > LOCK_TIMEOUT || s.ms > 2 * LOCK_TIMEOUT)
    .map((s) => `${s.op} at +${Math.round(s.at - t0)} ms: waited ${s.waited.toFixed(1)} ms (round trip ${s.ms.toFixed(1)} ms)`);
  if (process.env['TANDEM_TEST_VERBOSE']) console.log(`# ${label}: slow: ${slow.join(', ')}`);
  assert.ok(max < LOCK_TIMEOUT + MARGIN, `${label}: an application query waited ${max.toFixed(1)} ms (lock timeout ${LOCK_TIMEOUT} ms); slow: ${slow.join(', ')}`);
  return { max, p99: percentile(waited, 99), n: waited.length, clientMax: Math.max(...traffic.samples.map((s) => s.ms)) };
}

test('a blocked ALTER never stalls application queries much longer than the lock timeout; start, then complete, succeed once the blocker ends', { timeout: 90_000 }, async () => {
  const blocker = await openBlocker();
  const traffic = await appTraffic(3);
  await sleep(100);
  const runner = await db.connect('tandem');
  const t0 = performance.now();
  let startedAt = 0;
  const starting = start(runner, parseMigration(doc('l1_balance_cents'), undefined), { lockTimeoutMs: LOCK_TIMEOUT, lockRetryForMs: 30_000, batchSize: 500 }).then((r) => {
    startedAt = performance.now();
    return r;
  });

  // Let tandem retry against the blocker for a while: several lock timeouts, start still pending.
  await waitFor('several lock timeouts', async () => (await lockTimeoutAttempts()) >= 4, 15_000);
  assert.equal(startedAt, 0, 'start cannot finish while the blocker holds its lock');
  const blockedUntil = performance.now();
  await blocker.client.query('COMMIT');
  const committedAt = performance.now();

  const result = await starting;
  assert.equal(result.alreadyActive, false);
  assert.equal(await migrationPhase(db, 'l1_balance_cents'), 'active');
  const wrong = await db.query(`SELECT count(*)::int AS n FROM accounts WHERE _tandem_new_balance IS DISTINCT FROM balance::bigint * 100 OR _tandem_synced IS NOT TRUE`);
  assert.equal(wrong.rows[0].n, 0, 'every row is backfilled');
  const startAttempts = await lockTimeoutAttempts();

  // complete's contract step (several ALTERs in one transaction) against a blocker, same traffic.
  const blocker2 = await openBlocker();
  let completedAt = 0;
  const completing = complete(runner, { lockTimeoutMs: LOCK_TIMEOUT, lockRetryForMs: 30_000 }).then((r) => {
    completedAt = performance.now();
    return r;
  });
  await waitFor('complete to hit lock timeouts', async () => (await lockTimeoutAttempts()) >= startAttempts + 3, 15_000);
  assert.equal(completedAt, 0, 'complete cannot finish while the blocker holds its lock');
  await blocker2.client.query('COMMIT');
  await completing;
  assert.equal(await migrationPhase(db, 'l1_balance_cents'), 'completed');
  assert.equal(
    (await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'balance'`)).rows[0].t,
    'bigint',
  );
  await sleep(200);
  await traffic.stop();

  const stats = assertNoLongStall(
    traffic,
    `blocked start (start +${Math.round(t0 - traffic.samples[0]!.at)}, blocker commit +${Math.round(committedAt - traffic.samples[0]!.at)}, start done +${Math.round(startedAt - traffic.samples[0]!.at)})`,
  );
  const during = traffic.samples.filter((s) => s.at >= t0 && s.at <= blockedUntil);
  assert.ok(during.length > 50, `application queries kept running while start was blocked (${during.length})`);
  // Queries really queued behind the waiting ALTER (otherwise this test measures nothing).
  const queued = during.filter((s) => s.waited >= LOCK_TIMEOUT / 3).length;
  assert.ok(queued > 0, 'some application queries waited behind the ALTER');
  console.log(
    `# blocked start/complete: ${startAttempts}/${(await lockTimeoutAttempts()) - startAttempts} lock timeouts, start took ${Math.round(startedAt - t0)} ms; ` +
      `${stats.n} app queries, ${queued} queued behind the ALTER, waited p99 ${stats.p99.toFixed(1)} ms, max ${stats.max.toFixed(1)} ms (client round trip max ${stats.clientMax.toFixed(1)} ms)`,
  );
});

test('start gives up cleanly after its retry budget, naming the blocker; nothing of the step is applied; a re-run succeeds', { timeout: 90_000 }, async () => {
  const before = await catalogSnapshot(await db.connect('snap'));
  const blocker = await openBlocker();
  const traffic = await appTraffic(3);
  const runner = await db.connect('tandem');
  const migration = parseMigration(doc('l2_balance_cents'), undefined);

  const t0 = performance.now();
  const err = await start(runner, migration, { lockTimeoutMs: LOCK_TIMEOUT, lockRetryForMs: 1_500 }).then(
    () => assert.fail('start should give up while the blocker holds its lock'),
    (e: unknown) => e,
  );
  const gaveUpAfter = performance.now() - t0;
  assert.ok(err instanceof LockTimeoutError, `LockTimeoutError expected, got ${String(err)}`);
  assert.equal(err.exitCode, 1);
  assert.equal(err.step, 'expand:accounts');
  assert.match(err.message, new RegExp(`pid ${blocker.pid}\\b`), 'the message names the blocking session');
  assert.match(err.message, /long-report/);
  assert.ok(err.attempts >= 3, `retried (${err.attempts} attempts)`);
  assert.ok(gaveUpAfter >= 1_400 && gaveUpAfter < 6_000, `gave up after its budget (${Math.round(gaveUpAfter)} ms)`);

  // Nothing of the blocked step: no shadow column, trigger, function or version schema.
  assert.deepEqual(await catalogSnapshot(runner), before);
  // Nothing was changed, so no half-made `starting` migration is left (test/sturdiness/start-failure-row.test.ts);
  // the audit log keeps the attempts.
  assert.equal(await migrationPhase(db, 'l2_balance_cents'), undefined);
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM tandem.steps`)).rows[0].n, 0);
  const attempts = (await db.query(`SELECT step_id, outcome FROM tandem.audit_log WHERE migration_name = 'l2_balance_cents' ORDER BY id`)).rows;
  assert.ok(attempts.length >= 3 && attempts.every((a) => a.step_id === 'expand:accounts' && a.outcome === 'lock_timeout'), JSON.stringify(attempts));
  // The runner lock was released: another runner may proceed.
  assert.equal(
    (
      await db.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      )
    ).rows[0].n,
    0,
  );

  await blocker.client.query('COMMIT');
  const resumed = await start(runner, migration, { lockTimeoutMs: LOCK_TIMEOUT, lockRetryForMs: 1_500 });
  await sleep(100);
  await traffic.stop();
  assert.equal(resumed.resumed, false, 'nothing was recorded to resume: it starts afresh');
  assert.equal(await migrationPhase(db, 'l2_balance_cents'), 'active');
  const wrong = await db.query(`SELECT count(*)::int AS n FROM accounts WHERE _tandem_new_balance IS DISTINCT FROM balance::bigint * 100`);
  assert.equal(wrong.rows[0].n, 0);
  const stats = assertNoLongStall(traffic, 'start that gives up');

  // And rollback from there restores the catalog exactly.
  await rollback(runner, { lockTimeoutMs: LOCK_TIMEOUT });
  assert.deepEqual(await catalogSnapshot(runner), before);
  console.log(
    `# start gave up after ${err.attempts} attempts in ${Math.round(gaveUpAfter)} ms; app queries waited max ${stats.max.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms (client round trip max ${stats.clientMax.toFixed(1)} ms)`,
  );
});

test('CLI: start exits 1 naming the blocking pid, changes nothing; after the blocker ends, start resumes; rollback restores the catalog', { timeout: 90_000 }, async () => {
  const snap = await db.connect('snap');
  const before = await catalogSnapshot(snap);
  const blocker = await openBlocker();
  const traffic = await appTraffic(2);
  const mark = (what: string) => process.env['TANDEM_TEST_VERBOSE'] && console.log(`# ${what} at +${Math.round(performance.now() - traffic.samples[0]!.at)}`);
  await sleep(50);
  const file = writeMigrationFile('l3_balance_cents', doc('l3_balance_cents'));

  const failed = await spawnCli(['start', file, '--lock-timeout', String(LOCK_TIMEOUT), '--lock-retry-for', '1500', '--json'], db.url).done;
  mark('failed start done');
  assert.equal(failed.code, 1, failed.stderr);
  const json = JSON.parse(failed.stdout);
  assert.equal(json.error.type, 'LockTimeoutError');
  assert.equal(json.error.exitCode, 1);
  assert.match(json.error.message, new RegExp(`pid ${blocker.pid}\\b`));
  assert.match(failed.stderr, /gave up after \d+ attempts/);
  assert.match(failed.stderr, new RegExp(`pid ${blocker.pid}\\b`));
  assert.match(failed.stderr, /nothing of this step was applied/);
  assert.deepEqual(await catalogSnapshot(snap), before);

  // Nothing was changed, so no half-made `starting` migration is left behind; the audit log keeps the attempts.
  const status = await spawnCli(['status', '--json'], db.url).done;
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  assert.equal(s.inProgress, null);
  const attempts = await db.query(
    `SELECT count(*)::int AS n FROM tandem.audit_log WHERE migration_name = 'l3_balance_cents' AND step_id = 'expand:accounts' AND outcome = 'lock_timeout'`,
  );
  assert.ok(attempts.rows[0].n > 0);

  mark('status done');
  await blocker.client.query('COMMIT');
  mark('blocker committed');
  const ok = await spawnCli(['start', file, '--lock-timeout', String(LOCK_TIMEOUT), '--lock-retry-for', '5000'], db.url).done;
  mark('start done');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await migrationPhase(db, 'l3_balance_cents'), 'active');

  const rb = await spawnCli(['rollback', '--lock-timeout', String(LOCK_TIMEOUT)], db.url).done;
  mark('rollback done');
  assert.equal(rb.code, 0, rb.stderr);
  await traffic.stop();
  assert.deepEqual(await catalogSnapshot(snap), before);
  const stats = assertNoLongStall(traffic, 'CLI');
  console.log(`# CLI blocked start: app queries waited max ${stats.max.toFixed(1)} ms over ${stats.n} queries (client round trip max ${stats.clientMax.toFixed(1)} ms)`);
});
