import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertNoTandemLeftovers,
  columns,
  type Env,
  inNewVersionTransaction,
  migration,
  migrationRows,
  newVersion,
  ROWS,
  run,
  runComplete,
  runRollback,
  schemaNames,
  snapshot,
  withDatabase,
} from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE);
  CREATE TABLE orders (id integer PRIMARY KEY, user_id integer REFERENCES users (id), total integer NOT NULL);
  INSERT INTO users SELECT g, 'User' || g, 'u' || g || '@x.io' FROM generate_series(1, ${ROWS}) g;
  INSERT INTO orders SELECT g, g, g * 10 FROM generate_series(1, 20) g;
`;

const m = () => migration({ name: 'rename_users', operations: [{ rename_table: { from: 'users', to: 'customers' } }] });
const vs = 'public_rename_users';

async function relations(env: Env, schema: string): Promise<string[]> {
  const r = await env.old.query<{ relname: string }>(
    `SELECT c.relname::text AS relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'v') ORDER BY 1`,
    [schema],
  );
  return r.rows.map((x) => x.relname);
}

describe('rename_table', () => {
  test("start: each version sees its name and the other's writes; complete renames the table", async () => {
    await withDatabase(SETUP, async (env) => {
      const oid = (await env.old.query(`SELECT 'public.users'::regclass::oid::int AS oid`)).rows[0].oid;
      await run(env, m());
      assert.deepEqual(await relations(env, 'public'), ['orders', 'users']);
      assert.deepEqual(await relations(env, vs), ['customers', 'orders']);
      const nv = await newVersion(env.db, vs);
      await assert.rejects(nv.query(`SELECT 1 FROM users`), { code: '42P01' });
      await assert.rejects(env.old.query(`SELECT 1 FROM customers`), { code: '42P01' });
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM customers`)).rows[0].n, ROWS);

      // Old version writes under the old name; the new version reads them under the new one.
      await env.old.query(`INSERT INTO users (id, name, email) VALUES (1001, 'Alice', 'a@x.io')`);
      await env.old.query(`UPDATE users SET name = 'Uno' WHERE id = 1`);
      assert.deepEqual((await nv.query(`SELECT id, name FROM customers WHERE id IN (1, 1001) ORDER BY id`)).rows, [
        { id: 1, name: 'Uno' },
        { id: 1001, name: 'Alice' },
      ]);
      // New version writes (RETURNING, ON CONFLICT through the view) under the new name; the old version reads them.
      const n = await nv.query(`INSERT INTO customers (id, name, email) VALUES (1002, 'Bob', 'b@x.io') RETURNING *`);
      assert.deepEqual(n.rows, [{ id: 1002, name: 'Bob', email: 'b@x.io' }]);
      const up = await nv.query(`INSERT INTO customers (id, name, email) VALUES (5000, 'Other', 'u2@x.io') ON CONFLICT (email) DO UPDATE SET name = 'Two' RETURNING id, name`);
      assert.deepEqual(up.rows, [{ id: 2, name: 'Two' }]);
      await inNewVersionTransaction(nv, 'use_version', vs, 'rename_users', 'customers', `UPDATE {t} SET name = 'Three' WHERE id = 3`);
      await inNewVersionTransaction(nv, 'set_local', vs, 'rename_users', 'customers', `DELETE FROM {t} WHERE id = 150`);
      assert.deepEqual((await env.old.query(`SELECT id, name FROM users WHERE id IN (2, 3, 150, 1002) ORDER BY id`)).rows, [
        { id: 2, name: 'Two' },
        { id: 3, name: 'Three' },
        { id: 1002, name: 'Bob' },
      ]);
      // The foreign key from orders works for writes through either name.
      await nv.query(`INSERT INTO orders (id, user_id, total) VALUES (21, 1002, 5)`);
      await assert.rejects(nv.query(`INSERT INTO orders (id, user_id, total) VALUES (22, 150, 5)`), { code: '23503' });

      await runComplete(env);
      assert.deepEqual(await relations(env, 'public'), ['customers', 'orders']);
      assert.equal((await env.old.query(`SELECT 'public.customers'::regclass::oid::int AS oid`)).rows[0].oid, oid, 'renamed, not copied');
      assert.deepEqual(await relations(env, vs), ['customers', 'orders']);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM customers`)).rows[0].n, ROWS + 1);
      assert.deepEqual((await nv.query(`INSERT INTO customers (id, name, email) VALUES (1003, 'Cy', 'c@x.io') RETURNING id`)).rows, [{ id: 1003 }]);
      await assertNoTandemLeftovers(env.old, 'customers');
      assert.deepEqual(await migrationRows(env.old), [{ name: 'rename_users', phase: 'completed' }]);
    });
  });

  test('rollback leaves the table under its old name: the catalog is as before start', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await nv.query(`INSERT INTO customers (id, name, email) VALUES (1002, 'Bob', 'b@x.io')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.deepEqual((await env.old.query(`SELECT name FROM users WHERE id = 1002`)).rows, [{ name: 'Bob' }]);
    });
  });

  test('later operations of the same migration refer to the new name', async () => {
    await withDatabase(SETUP, async (env) => {
      const mm = migration({
        name: 'customers',
        operations: [
          { rename_table: { from: 'users', to: 'customers' } },
          { add_column: { table: 'customers', up: `upper(name)`, column: { name: 'shout', type: 'text' } } },
          { rename_column: { table: 'customers', from: 'email', to: 'mail' } },
          { create_index: { name: 'customers_shout_idx', table: 'customers', columns: [{ column: 'shout' }] } },
        ],
      });
      const before = await snapshot(env);
      await run(env, mm);
      const cvs = 'public_customers';
      assert.deepEqual(
        (await columns(env.old, cvs, 'customers')).map((c) => c.name),
        ['id', 'name', 'mail', 'shout'],
      );
      assert.deepEqual(
        (await columns(env.old, 'public', 'users')).map((c) => c.name).filter((c) => !c.startsWith('_tandem')),
        ['id', 'name', 'email', 'shout'],
      );
      const nv = await newVersion(env.db, cvs);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM customers WHERE shout = upper(name)`)).rows[0].n, ROWS);
      // The old version writes under the old names; `up` fills the new column.
      await env.old.query(`INSERT INTO users (id, name, email) VALUES (1001, 'alice', 'a@x.io')`);
      assert.deepEqual((await nv.query(`SELECT shout, mail FROM customers WHERE id = 1001`)).rows, [{ shout: 'ALICE', mail: 'a@x.io' }]);
      await nv.query(`INSERT INTO customers (id, name, mail, shout) VALUES (1002, 'bob', 'b@x.io', 'BOB!')`);
      assert.deepEqual((await env.old.query(`SELECT name, email FROM users WHERE id = 1002`)).rows, [{ name: 'bob', email: 'b@x.io' }]);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'customers_shout_idx' AND tablename = 'users'`)).rows[0].n, 1);

      await runComplete(env);
      assert.deepEqual(await relations(env, 'public'), ['customers', 'orders']);
      assert.deepEqual(await columns(env.old, 'public', 'customers'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'name', type: 'text', notNull: true },
        { name: 'mail', type: 'text', notNull: true },
        { name: 'shout', type: 'text', notNull: true },
      ]);
      assert.deepEqual((await env.old.query(`SELECT tablename FROM pg_indexes WHERE indexname = 'customers_shout_idx'`)).rows, [{ tablename: 'customers' }]);
      await assertNoTandemLeftovers(env.old, 'customers');
      assert.deepEqual((await nv.query(`SELECT shout FROM customers WHERE id IN (1001, 1002) ORDER BY id`)).rows, [{ shout: 'ALICE' }, { shout: 'BOB!' }]);
      assert.deepEqual(await schemaNames(env.old), [cvs]);
      assert.notDeepEqual(await snapshot(env), before);
    });
  });

  test('rollback of a rename with further operations on the new name restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(
        env,
        migration({
          name: 'customers',
          operations: [
            { rename_table: { from: 'users', to: 'customers' } },
            { add_column: { table: 'customers', up: `upper(name)`, column: { name: 'shout', type: 'text' } } },
            { create_index: { name: 'customers_shout_idx', table: 'customers', columns: [{ column: 'shout' }] } },
          ],
        }),
      );
      await env.old.query(`INSERT INTO users (id, name, email) VALUES (1001, 'alice', 'a@x.io')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
    });
  });
});
