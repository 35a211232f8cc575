import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { type Env, migration, migrationRows, newVersion, ROWS, run, runComplete, runRollback, schemaNames, snapshot, tempDir, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);
  CREATE TABLE sessions (id integer PRIMARY KEY, user_id integer NOT NULL CONSTRAINT sessions_user_fk REFERENCES users (id), token text NOT NULL);
  CREATE TABLE audit (id integer PRIMARY KEY, what text NOT NULL);
  CREATE VIEW audit_recent AS SELECT id, what FROM audit WHERE id > 10;
  INSERT INTO users SELECT g, 'User' || g FROM generate_series(1, ${ROWS}) g;
  INSERT INTO sessions SELECT g, g, 't' || g FROM generate_series(1, 50) g;
  INSERT INTO audit SELECT g, 'w' || g FROM generate_series(1, 20) g;
`;

const m = () => migration({ name: 'drop_sessions', operations: [{ drop_table: { name: 'sessions' } }] });
const vs = 'public_drop_sessions';

async function views(env: Env, schema: string): Promise<string[]> {
  const r = await env.old.query<{ viewname: string }>(`SELECT viewname FROM pg_views WHERE schemaname = $1 ORDER BY 1`, [schema]);
  return r.rows.map((x) => x.viewname);
}

async function exists(env: Env, relation: string): Promise<boolean> {
  return (await env.old.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [relation])).rows[0].ok;
}

describe('drop_table', () => {
  test('start hides the table from the new version while the old one uses it; complete drops it', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      // The new version has views for the other tables, none for sessions.
      assert.deepEqual(await views(env, vs), ['audit', 'users']);
      const nv = await newVersion(env.db, vs);
      await assert.rejects(nv.query(`SELECT * FROM sessions`), { code: '42P01' });
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS);
      await nv.query(`INSERT INTO users (id, name) VALUES (1001, 'New')`);

      // The old version reads and writes it as before, its foreign key included.
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM sessions`)).rows[0].n, 50);
      const o = await env.old.query(`INSERT INTO sessions (id, user_id, token) VALUES (51, 1001, 'fresh') RETURNING id, token`);
      assert.deepEqual(o.rows, [{ id: 51, token: 'fresh' }]);
      await env.old.query(`UPDATE sessions SET token = 'changed' WHERE id = 1`);
      await env.old.query(`DELETE FROM sessions WHERE id = 2`);
      await assert.rejects(env.old.query(`INSERT INTO sessions (id, user_id, token) VALUES (52, 99999, 'x')`), { code: '23503' });
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM sessions`)).rows[0].n, 50);

      await runComplete(env);
      assert.equal(await exists(env, 'public.sessions'), false);
      assert.equal(await exists(env, 'public.users'), true);
      assert.deepEqual(await views(env, vs), ['audit', 'users']);
      // The referenced table lost the foreign key's triggers with it: deleting a user is free now.
      await env.old.query(`DELETE FROM users WHERE id = 1`);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'drop_sessions', phase: 'completed' }]);
    });
  });

  test("the previous version schema's view of the table does not stop it; complete drops that view first", async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, migration({ name: 'm1', operations: [{ rename_column: { table: 'sessions', from: 'token', to: 'secret' } }] }));
      await runComplete(env);
      assert.deepEqual(await views(env, 'public_m1'), ['audit', 'sessions', 'users']);
      await run(env, migration({ name: 'm2', operations: [{ drop_table: { name: 'sessions' } }] }));
      // The previous version still reads it through its view until complete.
      const prev = await newVersion(env.db, 'public_m1');
      assert.equal((await prev.query(`SELECT count(*)::int AS n FROM sessions WHERE secret LIKE 't%'`)).rows[0].n, 50);
      assert.deepEqual(await views(env, 'public_m2'), ['audit', 'users']);
      await runComplete(env);
      assert.equal(await exists(env, 'public.sessions'), false);
      assert.deepEqual(await schemaNames(env.old), ['public_m2']);
    });
  });

  test('rollback keeps the table and what the old version wrote: the catalog is as before start', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      await env.old.query(`INSERT INTO sessions (id, user_id, token) VALUES (51, 3, 'during')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM sessions`)).rows[0].n, 51);
      assert.deepEqual((await env.old.query(`SELECT token FROM sessions WHERE id = 51`)).rows, [{ token: 'during' }]);
    });
  });

  test('a table referenced by a foreign key or used by a view is refused with exit 2 and nothing changes', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await catalogSnapshot(env.old);
      const dir = await tempDir();
      try {
        const file = await dir.write('drop_users.yaml', 'operations:\n  - drop_table: { name: users }\n');
        const r = await runCli(['start', file], { TANDEM_DATABASE_URL: env.db.url });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /operations\[0\] \(drop_table\), field "name": table "users" is still referenced by foreign key sessions_user_fk on public\.sessions/);
      } finally {
        await dir.remove();
      }
      await assert.rejects(run(env, migration({ name: 'drop_audit', operations: [{ drop_table: { name: 'audit' } }] })), (err: Error & { exitCode?: number }) => {
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /table "audit" is still referenced by view public\.audit_recent/);
        return true;
      });
      assert.deepEqual(await catalogSnapshot(env.old), before);
      assert.deepEqual(await migrationRows(env.old), []);
      assert.deepEqual(await schemaNames(env.old), []);
    });
  });
});
