/**
 * Tandem run by a role that owns its database but is not a superuser, as on managed services;
 * and an application role that only has the privileges it was granted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ident } from '../../src/sql/ident.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { columns, migrationRows, schemaNames, tempDir } from './support.js';

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

describe('a non-superuser database owner', () => {
  const suffix = randomBytes(5).toString('hex');
  const owner = `tandem_owner_${suffix}`;
  const app = `tandem_app_${suffix}`;
  const password = `pw_${suffix}`;
  let db: TestDatabase;
  let ownerUrl: string;
  let appUrl: string;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const clients: pg.Client[] = [];

  async function connectAs(url: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  }

  before(async () => {
    dir = await tempDir();
    db = await createTestDatabase();
    await asAdmin(`CREATE ROLE ${ident(owner)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}'`);
    await asAdmin(`CREATE ROLE ${ident(app)} LOGIN NOSUPERUSER PASSWORD '${password}'`);
    await asAdmin(`ALTER DATABASE ${ident(db.name)} OWNER TO ${ident(owner)}`);
    // PostgreSQL 14 and older: the public schema belongs to the bootstrap superuser, not to the
    // database owner (15 and later: pg_database_owner).
    const publicOwner = (await db.query(`SELECT nspowner::regrole::text AS o FROM pg_namespace WHERE nspname = 'public'`)).rows[0].o as string;
    if (publicOwner !== 'pg_database_owner') await db.query(`ALTER SCHEMA public OWNER TO ${ident(owner)}`);
    ownerUrl = urlAs(db.url, owner, password);
    appUrl = urlAs(db.url, app, password);
    const o = await connectAs(ownerUrl);
    assert.equal((await o.query(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`)).rows[0].rolsuper, false);
    await o.query(`
      CREATE TABLE accounts (id integer PRIMARY KEY, name text NOT NULL, balance text NOT NULL);
      INSERT INTO accounts SELECT g, 'acct' || g, (g * 10)::text FROM generate_series(1, 120) g;
      GRANT SELECT, INSERT, UPDATE ON accounts TO ${ident(app)};
    `);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await db.drop();
    await asAdmin(`DROP ROLE IF EXISTS ${ident(owner)}`);
    await asAdmin(`DROP ROLE IF EXISTS ${ident(app)}`);
    await dir.remove();
  });

  test('init, start, rollback, start, complete as the owner; the app role uses both versions', async () => {
    const env = { TANDEM_DATABASE_URL: ownerUrl };
    const o = await connectAs(ownerUrl);
    const init = await runCli(['init'], env);
    assert.equal(init.code, 0, init.stderr);
    assert.equal((await o.query(`SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'tandem'`)).rows[0].owner, owner);

    const file = await dir.write(
      'balance_int.yaml',
      'operations:\n  - alter_column:\n      table: accounts\n      column: balance\n      type: integer\n      up: CAST(balance AS integer)\n      down: CAST(balance AS text)\n',
    );
    const before = await catalogSnapshot(o);
    const s1 = await runCli(['start', file, '--batch-size', '25'], env);
    assert.equal(s1.code, 0, s1.stderr);
    const rb = await runCli(['rollback'], env);
    assert.equal(rb.code, 0, rb.stderr);
    assert.deepEqual(await catalogSnapshot(o), before);

    const s2 = await runCli(['start', file, '--batch-size', '25'], env);
    assert.equal(s2.code, 0, s2.stderr);
    const st = await runCli(['status', '--json'], env);
    assert.equal(JSON.parse(st.stdout).inProgress.phase, 'active');

    // The application role, with only its table grants, works with either version.
    const oldApp = await connectAs(appUrl);
    await oldApp.query(`INSERT INTO accounts (id, name, balance) VALUES (1001, 'old', '77')`);
    const newApp = await connectAs(appUrl);
    await newApp.query(`SET search_path TO public_balance_int`);
    const n = await newApp.query(`INSERT INTO accounts (id, name, balance) VALUES (1002, 'new', 88) RETURNING balance`);
    assert.deepEqual(n.rows, [{ balance: 88 }]);
    assert.deepEqual((await newApp.query(`SELECT balance FROM accounts WHERE id IN (5, 1001) ORDER BY id`)).rows, [{ balance: 50 }, { balance: 77 }]);
    assert.deepEqual((await oldApp.query(`SELECT balance FROM accounts WHERE id = 1002`)).rows, [{ balance: '88' }]);

    const c = await runCli(['complete'], env);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(
      (await columns(o, 'public', 'accounts')).find((x) => x.name === 'balance'),
      { name: 'balance', type: 'integer', notNull: true },
    );
    assert.equal((await o.query(`SELECT count(*)::int AS n FROM accounts WHERE id <= 120 AND balance = id * 10`)).rows[0].n, 120);
    assert.deepEqual(await schemaNames(o), ['public_balance_int']);
    assert.deepEqual(await migrationRows(o), [
      { name: 'balance_int', phase: 'rolled_back' },
      { name: 'balance_int', phase: 'completed' },
    ]);
    assert.deepEqual((await newApp.query(`SELECT balance FROM accounts WHERE id = 1002`)).rows, [{ balance: 88 }]);
    // The audit log records who ran each step.
    const who = await o.query(`SELECT DISTINCT run_by FROM tandem.audit_log`);
    assert.deepEqual(who.rows, [{ run_by: owner }]);
  });
});
