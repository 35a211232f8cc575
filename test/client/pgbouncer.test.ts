/**
 * Routing through PgBouncer in transaction pooling mode, one server connection for everyone:
 * transactions of both versions interleave on that connection and each sees its own version
 * (tandem.use_version is transaction-local); a pinned pool in 'transaction' mode does the same;
 * LISTEN does not work through the pooler, so a router on it learns changes by polling, and one
 * given `listenConnectionString` (the server itself) by NOTIFY.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pinnedPool, versionRouter } from '../../src/client/index.js';
import { setRollout } from '../../src/state/rollout-store.js';
import type { TestDatabase } from '../helpers/db.js';
import { type Bouncer, pgbouncerBinary, startPgbouncer } from './pgbouncer.js';
import { keys, NEW_VERSION, startedMigration, waitFor } from './support.js';

const binary = pgbouncerBinary();

describe('tandem/client behind PgBouncer (transaction pooling)', { skip: binary ? false : 'pgbouncer is not installed (apt-get install -y pgbouncer)' }, () => {
  let db: TestDatabase;
  let direct: pg.Pool;
  let engine: pg.Client;
  let bouncer: Bouncer;
  let pool: pg.Pool;

  before(async () => {
    ({ db, pool: direct, engine } = await startedMigration());
    bouncer = await startPgbouncer(binary!, db.url);
    pool = new pg.Pool({ connectionString: bouncer.url, max: 6 });
    pool.on('error', () => undefined);
    await setRollout(engine, 'public', 50);
  });
  after(async () => {
    await pool?.end();
    await direct?.end();
    await bouncer?.stop();
    await db?.drop();
  });

  test('both versions interleaved on one server connection: each transaction sees its own version', async () => {
    const router = await versionRouter({ pool, schema: 'public', listen: false, health: false });
    try {
      const ks = keys(60);
      assert.ok(new Set(ks.map((k) => router.versionFor(k))).size === 2, 'keys on both versions');
      const seen = await Promise.all(
        ks.map((k) =>
          router.transaction(k, async (c, version) => {
            const a = await c.query<{ pid: number; tv: string; cs: string }>(`SELECT pg_backend_pid() AS pid, current_setting('tandem.version') AS tv, current_schema() AS cs`);
            // The feature-flag style: each path runs its own version's query (only the new view has full_name).
            const name = await c.query<{ n: string }>(version === NEW_VERSION ? `SELECT full_name AS n FROM users WHERE id = 1` : `SELECT name AS n FROM users WHERE id = 1`);
            return { version, ...a.rows[0]!, name: name.rows[0]!.n };
          }),
        ),
      );
      assert.equal(new Set(seen.map((s) => s.pid)).size, 1, 'one server connection for every transaction');
      for (const s of seen) {
        assert.equal(s.tv, s.version);
        assert.equal(s.cs, s.version);
        assert.equal(s.name, 'user 1');
      }
      assert.deepEqual(new Set(seen.map((s) => s.version)), new Set(['public', NEW_VERSION]));
      // Nothing stays on the server connection.
      const bare = await pool.query<{ tv: string }>(`SELECT coalesce(current_setting('tandem.version', true), '') AS tv`);
      assert.equal(bare.rows[0]!.tv, '');
    } finally {
      await router.close();
    }
  });

  test("pinnedPool in 'transaction' mode pins per transaction", async () => {
    const pinned = await pinnedPool({ pool, schema: 'public', version: 'latest', mode: 'transaction', health: false });
    const previous = await pinnedPool({ pool, schema: 'public', version: 'previous', mode: 'transaction', health: false });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? pinned : previous).query<{ tv: string }>(`SELECT current_setting('tandem.version') AS tv`).then((r) => [i % 2 ? NEW_VERSION : 'public', r.rows[0]!.tv]),
      ),
    );
    for (const [want, got] of results) assert.equal(got, want);
    await assert.rejects(pinned.connect(), TypeError);
  });

  test('through the pooler a router learns changes by polling; with listenConnectionString, by NOTIFY', async () => {
    const polling = await versionRouter({ pool, schema: 'public', pollIntervalMs: 200, health: false });
    const notified = await versionRouter({ pool, schema: 'public', listenConnectionString: db.url, pollIntervalMs: 60_000, health: false });
    try {
      assert.equal(notified.core.watcher.listening(), true);
      await setRollout(engine, 'public', 75);
      await waitFor('the polling router to learn 75%', () => polling.state().percent === 75, 3_000);
      const ms = await waitFor('the listening router to learn 75%', () => notified.state().percent === 75, 3_000);
      assert.ok(ms < 1_000, `NOTIFY took ${ms} ms`);
    } finally {
      await polling.close();
      await notified.close();
    }
  });
});
