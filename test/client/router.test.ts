/**
 * tandem/client against a real database, in one database with a migration in progress (the
 * steps build on each other): the rollout row start creates, transactions on each version's
 * views, sticky and monotone routing, propagation by NOTIFY and by polling, the last known
 * routing kept while the state is unreachable, health flushed exactly as recorded, `rollout
 * set|status` and complete's refusal below 100% through the real CLI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { HealthRecorder, pgRunner, readRolloutState, type VersionRouter, versionRouter, watchRollout } from '../../src/client/index.js';
import type { RolloutStatus } from '../../src/client/rollout-status.js';
import { setRollout } from '../../src/state/rollout-store.js';
import { runCli } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import { keys, NEW_VERSION, startedMigration, waitFor } from './support.js';
import { startTcpProxy } from './tcp-proxy.js';

describe('tandem/client on a migration in progress', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let engine: pg.Client;
  let router: VersionRouter;
  const set = (percent: number) => setRollout(engine, 'public', percent);
  const cli = (args: string[]) => runCli(['--database-url', db.url, ...args]);

  before(async () => {
    ({ db, pool, engine } = await startedMigration());
    // Polling only every minute: a change learnt within a second came by NOTIFY.
    router = await versionRouter({ pool, schema: 'public', pollIntervalMs: 60_000, health: { flushIntervalMs: 0, instanceId: 'router-1' } });
  });
  after(async () => {
    await router?.close();
    await pool?.end();
    await db?.drop();
  });

  test('start created the rollout at 0%: every key on the old version, pinned latest on the new; each sees its version’s views', async () => {
    const s = router.state();
    assert.deepEqual([s.percent, s.oldVersion, s.newVersion, s.managed], [0, 'public', NEW_VERSION, false]);
    for (const k of keys(200)) assert.equal(router.versionFor(k), 'public');
    assert.equal(router.pin('latest').version, NEW_VERSION);
    assert.equal(router.pin('previous').version, 'public');
    const onNew = await router.pin('latest').transaction(async (c, version) => {
      const r = await c.query<{ tv: string; full_name: string; plan: string }>(`SELECT current_setting('tandem.version') AS tv, full_name, plan FROM users WHERE id = 1`);
      return { version, ...r.rows[0]! };
    });
    assert.deepEqual(onNew, { version: NEW_VERSION, tv: NEW_VERSION, full_name: 'user 1', plan: 'free' });
    await assert.rejects(
      router.transaction('user-1', (c) => c.query(`SELECT full_name FROM users`)),
      { code: '42703' },
      'the old version has no full_name',
    );
    // The old version is the table itself: an insert there (old names, no `plan`) is seen by the new version.
    await router.transaction('user-1', async (c, version) => {
      assert.equal(version, 'public');
      await c.query(`INSERT INTO users (id, name) VALUES (1001, 'old writer')`);
    });
    const written = await router.pin('latest').query<{ full_name: string; plan: string }>(`SELECT full_name, plan FROM users WHERE id = 1001`);
    assert.deepEqual(written.rows[0], { full_name: 'old writer', plan: 'free' });
    // Nothing is left on the pool's connections after a routed transaction.
    const sp = await pool.query<{ sp: string; tv: string }>(`SELECT current_setting('search_path') AS sp, coalesce(current_setting('tandem.version', true), '') AS tv`);
    assert.deepEqual(sp.rows[0], { sp: '"$user", public', tv: '' });
  });

  test('widening: the share within ±3 points, the same key the same version, never new → old; NOTIFY within a second', async () => {
    const ks = keys(4_000);
    for (const pct of [5, 25, 50, 99.5, 100]) {
      const before = new Map(ks.map((k) => [k, router.versionFor(k)]));
      await set(pct);
      const ms = await waitFor(`the router to learn ${pct}%`, () => router.state().percent === pct, 3_000);
      assert.ok(ms < 1_000, `learnt ${pct}% after ${Math.round(ms)} ms`);
      const now = ks.map((k) => router.versionFor(k));
      const share = (100 * now.filter((v) => v === NEW_VERSION).length) / ks.length;
      assert.ok(Math.abs(share - pct) <= 3, `${share}% of keys on the new version at ${pct}%`);
      for (const k of ks) if (before.get(k) === NEW_VERSION) assert.equal(router.versionFor(k), NEW_VERSION, `${k} moved new → old`);
      assert.deepEqual(
        ks.map((k) => router.versionFor(k)),
        now,
        'stable while the percentage holds',
      );
      const k = ks.find((x) => router.versionFor(x) === NEW_VERSION) ?? ks[0]!;
      assert.equal(await router.transaction(k, async (_c, v) => v), router.versionFor(k));
    }
  });

  test('polling alone learns a change; an unreachable state keeps the last routing, and a reconnect re-reads', async () => {
    const polling = await versionRouter({ pool, schema: 'public', listen: false, pollIntervalMs: 200, health: false });
    const proxy = await startTcpProxy(db.url);
    const errors: unknown[] = [];
    const cutOff = await watchRollout({ schema: 'public', connectionString: proxy.urlFor(db.url), pollIntervalMs: 100, onError: (e) => errors.push(e) });
    try {
      await set(30);
      await waitFor('polling to learn 30%', () => polling.state().percent === 30, 2_000);
      await waitFor('the watcher to learn 30%', () => cutOff.current().percent === 30, 2_000);
      const routed = keys(500).map((k) => polling.versionFor(k));
      await proxy.cut();
      await waitFor('the watcher to notice', () => !cutOff.listening(), 2_000);
      await set(60);
      const seen = errors.length;
      await waitFor('failed reads', () => errors.length >= seen + 2, 3_000);
      assert.equal(cutOff.current().percent, 30, 'the last known state stays in force');
      await waitFor('polling to learn 60%', () => polling.state().percent === 60, 2_000);
      assert.ok(keys(500).every((k, i) => routed[i] !== NEW_VERSION || polling.versionFor(k) === NEW_VERSION));
      await proxy.restore();
      await waitFor('the watcher to reconnect and re-read', () => cutOff.listening() && cutOff.current().percent === 60, 8_000);
    } finally {
      await cutOff.close();
      await proxy.close();
      await polling.close();
    }
  });

  test('a LISTEN connection that stops answering (half-open) is dropped: reads go to the pool, and changes are still learnt', async () => {
    const proxy = await startTcpProxy(db.url);
    const watcher = await watchRollout({ schema: 'public', run: pgRunner(pool), connectionString: proxy.urlFor(db.url), pollIntervalMs: 100, readTimeoutMs: 300 });
    try {
      assert.equal(watcher.listening(), true);
      proxy.freeze();
      await set(45);
      await waitFor('the watcher to learn 45% without its LISTEN connection', () => watcher.current().percent === 45, 5_000);
      assert.equal(watcher.listening(), false);
    } finally {
      await watcher.close();
      await proxy.close();
    }
  });

  test('health: the flushed numbers are those recorded; the router counts its transactions and errors per version', async () => {
    await router.flushHealth(); // what the earlier steps counted, out of the way
    await db.query(`DELETE FROM tandem.version_health`);
    const recorder = new HealthRecorder({ run: pgRunner(pool), schema: 'public', flushIntervalMs: 0, instanceId: 'recorder-1' });
    for (const ms of [0.4, 1.2, 3, 7.5, 12, 250]) recorder.record('public', ms);
    recorder.record(NEW_VERSION, 2);
    recorder.record(NEW_VERSION, 5, '23505');
    recorder.record(NEW_VERSION, 9, '23505');
    recorder.record(NEW_VERSION, 1, '40001');
    await recorder.flush();
    await recorder.flush(); // nothing new since: no row
    const rows = await db.query(`SELECT version, statements, errors, errors_by_sqlstate, latency_sum_ms, latency_max_ms FROM tandem.version_health ORDER BY version`);
    assert.deepEqual(rows.rows, [
      { version: 'public', statements: '6', errors: '0', errors_by_sqlstate: {}, latency_sum_ms: 274.1, latency_max_ms: 250 },
      { version: NEW_VERSION, statements: '4', errors: '3', errors_by_sqlstate: { '23505': 2, '40001': 1 }, latency_sum_ms: 17, latency_max_ms: 9 },
    ]);
    await recorder.close();

    await set(0);
    await waitFor('the router at 0%', () => router.state().percent === 0);
    await router.query('k', 'SELECT 1');
    await assert.rejects(router.query('k', `INSERT INTO users (id, name) VALUES (1, 'dup')`), { code: '23505' });
    await router.pin('latest').query('SELECT plan FROM users LIMIT 1');
    await router.flushHealth();
    const counted = await db.query(`SELECT version, statements::int, errors::int, errors_by_sqlstate FROM tandem.version_health WHERE instance_id = 'router-1' ORDER BY version`);
    assert.deepEqual(counted.rows, [
      { version: 'public', statements: 2, errors: 1, errors_by_sqlstate: { '23505': 1 } },
      { version: NEW_VERSION, statements: 1, errors: 0, errors_by_sqlstate: {} },
    ]);
  });

  test('a flush to an unreachable database neither throws nor loses the counts: the next flush writes them', async () => {
    const proxy = await startTcpProxy(db.url);
    const viaProxy = new pg.Pool({ connectionString: proxy.urlFor(db.url), max: 1, connectionTimeoutMillis: 1_000 });
    viaProxy.on('error', () => undefined);
    const recorder = new HealthRecorder({ run: pgRunner(viaProxy), schema: 'public', flushIntervalMs: 0, instanceId: 'cut-off' });
    try {
      await proxy.cut();
      recorder.record('public', 1);
      recorder.record('public', 3, '57P01');
      await recorder.flush();
      assert.equal(recorder.failedFlushes, 1);
      recorder.record('public', 2);
      await proxy.restore();
      await recorder.flush();
      assert.equal(recorder.flushes, 1);
      const r = await db.query(`SELECT statements::int, errors::int, latency_sum_ms FROM tandem.version_health WHERE instance_id = 'cut-off'`);
      assert.deepEqual(r.rows, [{ statements: 3, errors: 1, latency_sum_ms: 6 }]);
    } finally {
      await recorder.close();
      await viaProxy.end();
      await proxy.close();
    }
  });

  test('`rollout set` and `rollout status --json` through the CLI; bad percentages are exit 2 and change nothing', async () => {
    const r = await cli(['--json', 'rollout', 'set', '25']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { percent: number }).percent, 25);
    const s = await cli(['--json', 'rollout', 'status']);
    assert.equal(s.code, 0, s.stderr);
    const status = JSON.parse(s.stdout) as RolloutStatus;
    assert.deepEqual([status.percent, status.inProgress, status.managed, status.completeAllowed], [25, true, true, false]);
    const [old, neu] = status.health;
    assert.deepEqual([old!.version, old!.side, neu!.version, neu!.side], ['public', 'old', NEW_VERSION, 'new']);
    assert.equal(old!.statements, 6 + 2 + 3);
    assert.equal(neu!.errors, 3);
    assert.equal(neu!.errorRate, 3 / 5);
    assert.deepEqual(neu!.errorsBySqlstate, { '23505': 2, '40001': 1 });
    assert.equal(old!.maxMs, 250);
    for (const bad of ['101', 'abc']) {
      const b = await cli(['rollout', 'set', bad]);
      assert.equal(b.code, 2, `${bad}: ${b.stderr}`);
    }
    assert.equal((await readRolloutState(pgRunner(db), 'public')).percent, 25);
  });

  test('complete refuses while less than 100% is routed (exit 2, nothing changed); at 100% it completes and every key gets the latest', async () => {
    const refused = await cli(['--json', 'complete']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'rollout-incomplete');
    assert.equal((await db.query<{ phase: string }>(`SELECT phase FROM tandem.migrations`)).rows[0]!.phase, 'active');
    await set(100);
    const done = await cli(['complete']);
    assert.equal(done.code, 0, done.stderr);
    await waitFor('the router to learn the migration is over', () => router.state().migrationId === null);
    assert.ok(keys(100).every((k) => router.versionFor(k) === NEW_VERSION));
    assert.equal(await router.pin('previous').transaction(async (_c, v) => v), NEW_VERSION);
    await assert.rejects(set(10), { code: 'not-in-progress' });
  });
});
