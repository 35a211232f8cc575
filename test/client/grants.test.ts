/**
 * A non-superuser owner runs the migration and `tandem grant-client`; an application role with
 * only its table grants and those routes, writes through the new version's views, flushes health,
 * and pins a pool by search_path. Without grant-client the router says what to run.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pinnedPool, RolloutStateUnreadableError, versionRouter } from '../../src/client/index.js';
import { start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { ident } from '../../src/sql/ident.js';
import { setRollout } from '../../src/state/rollout-store.js';
import { runCli } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { migrationDoc, NEW_VERSION, SETUP } from './support.js';

function urlAs(base: string, user: string, password: string): string {
  const u = new URL(base);
  u.username = user;
  u.password = password;
  return u.toString();
}

async function asAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('tandem/client with a non-superuser owner and an application role', () => {
  const suffix = randomBytes(5).toString('hex');
  const owner = `tandem_owner_${suffix}`;
  const app = `tandem_app_${suffix}`;
  const password = `pw_${suffix}`;
  let db: TestDatabase;
  let ownerClient: pg.Client;
  let ownerUrl: string;
  let appPool: pg.Pool;

  before(async () => {
    db = await createTestDatabase();
    await asAdmin(`CREATE ROLE ${ident(owner)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}'`);
    await asAdmin(`CREATE ROLE ${ident(app)} LOGIN NOSUPERUSER PASSWORD '${password}'`);
    await asAdmin(`ALTER DATABASE ${ident(db.name)} OWNER TO ${ident(owner)}`);
    const publicOwner = (await db.query(`SELECT nspowner::regrole::text AS o FROM pg_namespace WHERE nspname = 'public'`)).rows[0].o as string;
    if (publicOwner !== 'pg_database_owner') await db.query(`ALTER SCHEMA public OWNER TO ${ident(owner)}`);
    ownerUrl = urlAs(db.url, owner, password);
    ownerClient = new pg.Client({ connectionString: ownerUrl });
    await ownerClient.connect();
    await ownerClient.query(`${SETUP} GRANT SELECT, INSERT, UPDATE ON users TO ${ident(app)};`);
    await start(ownerClient, parseMigration(migrationDoc, undefined), { lockTimeoutMs: 1_000 });
    appPool = new pg.Pool({ connectionString: urlAs(db.url, app, password), max: 3 });
    appPool.on('error', () => undefined);
  });

  after(async () => {
    await appPool?.end();
    await ownerClient?.end();
    await db?.drop();
    await asAdmin(`DROP ROLE IF EXISTS ${ident(owner)}`);
    await asAdmin(`DROP ROLE IF EXISTS ${ident(app)}`);
  });

  test('without grant-client the router cannot read the state and says what to run', async () => {
    await assert.rejects(versionRouter({ pool: appPool, health: false, listen: false }), (err: unknown) => {
      assert.ok(err instanceof RolloutStateUnreadableError);
      assert.match(err.message, /tandem grant-client/);
      return true;
    });
  });

  test('after `tandem grant-client`, the app role routes, writes through the new view, and flushes health', async () => {
    const bad = await runCli(['--database-url', ownerUrl, 'grant-client', `no_such_role_${suffix}`]);
    assert.equal(bad.code, 2, bad.stderr);
    const granted = await runCli(['--database-url', ownerUrl, 'grant-client', app]);
    assert.equal(granted.code, 0, granted.stderr);
    await setRollout(ownerClient, 'public', 100);
    const router = await versionRouter({ pool: appPool, health: { flushIntervalMs: 0, instanceId: 'app-1' } });
    try {
      assert.equal(router.core.watcher.listening(), true, 'LISTEN as the app role');
      assert.equal(router.versionFor('anyone'), NEW_VERSION);
      await router.transaction('anyone', (c) => c.query(`INSERT INTO users (id, full_name, plan) VALUES (500, 'via the new view', 'pro')`));
      await router.flushHealth();
      assert.equal(router.core.health!.failedFlushes, 0);
      const row = await ownerClient.query(`SELECT name, plan FROM public.users WHERE id = 500`);
      assert.deepEqual(row.rows[0], { name: 'via the new view', plan: 'pro' });
      const health = await ownerClient.query(`SELECT version, statements::int FROM tandem.version_health WHERE instance_id = 'app-1'`);
      assert.deepEqual(health.rows, [{ version: NEW_VERSION, statements: 1 }]);
    } finally {
      await router.close();
    }
  });

  test("pinnedPool in 'search_path' mode: every connection of its pool on the version, set once per connection", async () => {
    const pinned = await pinnedPool({ pool: appPool, version: 'latest', health: false });
    assert.equal(pinned.version, NEW_VERSION);
    const seen = await Promise.all(
      Array.from({ length: 6 }, () => pinned.query<{ sp: string; n: string }>(`SELECT current_setting('search_path') AS sp, full_name AS n FROM users WHERE id = 1`)),
    );
    for (const r of seen) assert.deepEqual(r.rows[0], { sp: NEW_VERSION, n: 'user 1' });
    const c = await pinned.connect();
    try {
      assert.equal((await c.query<{ tv: string }>(`SELECT current_setting('tandem.version') AS tv`)).rows[0]!.tv, NEW_VERSION);
    } finally {
      c.release();
    }
    await pinned.close();
  });
});
