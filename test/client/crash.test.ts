// @tier slow
/**
 * kill -9 of `tandem complete` and of `tandem rollback` while they wait for a lock, after the
 * routing changed: the rollout row changes in the same transaction as the phase, so what routers
 * follow always matches the phase (every key on the new version once complete began; on the old
 * once rollback began), and running the command again converges with routing unchanged.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type pg from 'pg';
import { type VersionRouter, versionRouter } from '../../src/client/index.js';
import { setRollout } from '../../src/state/rollout-store.js';
import { killSpawned, spawnCli } from '../concurrency/support.js';
import { runCli } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import { keys, NEW_VERSION, startedMigration, waitFor } from './support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  killSpawned();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(): Promise<{ db: TestDatabase; engine: pg.Client; router: VersionRouter; holder: pg.Client }> {
  const { db, pool, engine } = await startedMigration();
  cleanups.push(async () => {
    await pool.end();
    await db.drop();
  });
  const router = await versionRouter({ pool, schema: 'public', pollIntervalMs: 60_000, health: false });
  cleanups.push(() => router.close());
  // A transaction of the application holding the table: the command's DDL waits (and retries) behind it.
  const holder = await db.connect('app-holding-users');
  await holder.query(`BEGIN; LOCK TABLE users IN ACCESS SHARE MODE`);
  return { db, engine, router, holder };
}

const phase = async (db: TestDatabase) => (await db.query<{ phase: string }>(`SELECT phase FROM tandem.migrations ORDER BY id DESC LIMIT 1`)).rows[0]!.phase;
const rolloutRow = async (db: TestDatabase) => (await db.query(`SELECT migration_id, old_version, new_version FROM tandem.rollouts`)).rows[0];

test('complete killed -9 after it began: every key stays on the new version, and complete run again finishes', async () => {
  const { db, engine, router, holder } = await setup();
  await setRollout(engine, 'public', 100);
  const run = spawnCli(['--lock-retry-for', '60000', 'complete'], db.url);
  await waitFor('complete to begin', async () => (await phase(db)) === 'completing', 20_000);
  await waitFor('the router to follow', () => router.state().migrationId === null, 2_000);
  run.child.kill('SIGKILL');
  assert.equal((await run.done).signal, 'SIGKILL');
  assert.equal(await phase(db), 'completing');
  assert.deepEqual(await rolloutRow(db), { migration_id: null, old_version: null, new_version: NEW_VERSION });
  assert.ok(keys(500).every((k) => router.versionFor(k) === NEW_VERSION));
  await holder.query('ROLLBACK');
  const again = await runCli(['--database-url', db.url, 'complete']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(await phase(db), 'completed');
  assert.deepEqual(await rolloutRow(db), { migration_id: null, old_version: null, new_version: NEW_VERSION });
});

test('rollback killed -9 after it began: every key is on the old version, and rollback run again finishes', async () => {
  const { db, engine, router, holder } = await setup();
  await setRollout(engine, 'public', 60);
  const run = spawnCli(['--lock-retry-for', '60000', 'rollback'], db.url);
  await waitFor('rollback to begin', async () => (await phase(db)) === 'rolling_back', 20_000);
  await waitFor('the router to follow', () => router.state().migrationId === null, 2_000);
  run.child.kill('SIGKILL');
  assert.equal((await run.done).signal, 'SIGKILL');
  assert.deepEqual(await rolloutRow(db), { migration_id: null, old_version: null, new_version: 'public' });
  assert.ok(keys(500).every((k) => router.versionFor(k) === 'public'));
  await holder.query('ROLLBACK');
  const again = await runCli(['--database-url', db.url, 'rollback']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(await phase(db), 'rolled_back');
  assert.equal(router.state().newVersion, 'public');
});
