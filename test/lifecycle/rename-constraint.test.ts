import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogSnapshot } from '../helpers/catalog.js';
import { type Env, migration, migrationRows, newVersion, ROWS, run, runComplete, runRollback, schemaNames, snapshot, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL CONSTRAINT users_name_check CHECK (name <> ''),
                      email text NOT NULL CONSTRAINT users_email_key UNIQUE);
  CREATE TABLE orders (id integer PRIMARY KEY, user_id integer CONSTRAINT orders_user_fk REFERENCES users (id));
  INSERT INTO users SELECT g, 'User' || g, 'u' || g || '@x.io' FROM generate_series(1, ${ROWS}) g;
`;

const m = () =>
  migration({
    name: 'rename_constraints',
    operations: [
      { rename_constraint: { table: 'users', from: 'users_name_check', to: 'users_name_not_empty' } },
      { rename_constraint: { table: 'users', from: 'users_email_key', to: 'users_email_unique' } },
      { rename_constraint: { table: 'orders', from: 'orders_user_fk', to: 'orders_user_id_fkey' } },
    ],
  });
const vs = 'public_rename_constraints';

async function constraintNames(env: Env): Promise<string[]> {
  const r = await env.old.query<{ conname: string }>(
    `SELECT conname::text FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('c', 'u', 'f') ORDER BY 1`,
  );
  return r.rows.map((x) => x.conname);
}

async function violation(client: Env['old'], sql: string): Promise<string | undefined> {
  try {
    await client.query(sql);
    return undefined;
  } catch (err) {
    return (err as { constraint?: string }).constraint;
  }
}

describe('rename_constraint', () => {
  test('the old names stay during start (the old version relies on them); complete renames', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      assert.deepEqual(await constraintNames(env), ['orders_user_fk', 'users_email_key', 'users_name_check']);
      assert.deepEqual(await schemaNames(env.old), [vs]);
      const nv = await newVersion(env.db, vs);
      // Errors name the constraint the old version knows, through either version.
      assert.equal(await violation(env.old, `INSERT INTO users (id, name, email) VALUES (1001, '', 'a@x.io')`), 'users_name_check');
      assert.equal(await violation(nv, `INSERT INTO users (id, name, email) VALUES (1001, 'A', 'u1@x.io')`), 'users_email_key');
      // ON CONFLICT ON CONSTRAINT with the old name works for the old version.
      const up = await env.old.query(
        `INSERT INTO users (id, name, email) VALUES (1001, 'A', 'u1@x.io') ON CONFLICT ON CONSTRAINT users_email_key DO UPDATE SET name = 'One' RETURNING id`,
      );
      assert.deepEqual(up.rows, [{ id: 1 }]);

      await runComplete(env);
      assert.deepEqual(await constraintNames(env), ['orders_user_id_fkey', 'users_email_unique', 'users_name_not_empty']);
      // The unique constraint's index carries the new name too.
      assert.deepEqual(
        (await env.old.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'users' ORDER BY 1`)).rows.map((r) => r.indexname),
        ['users_email_unique', 'users_pkey'],
      );
      assert.equal(await violation(nv, `INSERT INTO users (id, name, email) VALUES (1002, '', 'b@x.io')`), 'users_name_not_empty');
      assert.equal(await violation(nv, `INSERT INTO users (id, name, email) VALUES (1002, 'B', 'u2@x.io')`), 'users_email_unique');
      assert.equal(await violation(nv, `INSERT INTO orders (id, user_id) VALUES (1, 99999)`), 'orders_user_id_fkey');
      assert.deepEqual(await migrationRows(env.old), [{ name: 'rename_constraints', phase: 'completed' }]);
    });
  });

  test('rollback leaves the names: the catalog is as before start', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await constraintNames(env), ['orders_user_fk', 'users_email_key', 'users_name_check']);
      assert.deepEqual(await schemaNames(env.old), []);
    });
  });

  test('a missing constraint or a taken name is refused with exit 2 and nothing changes', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await catalogSnapshot(env.old);
      for (const [body, expect] of [
        [{ table: 'users', from: 'nope', to: 'x' }, /field "from": constraint "nope" does not exist on table "users"/],
        [{ table: 'users', from: 'users_name_check', to: 'users_email_key' }, /field "to": the name "users_email_key" is already taken/],
        // A unique constraint's index would take the name of an existing relation.
        [{ table: 'users', from: 'users_email_key', to: 'orders' }, /field "to": the name "orders" is already taken/],
      ] as const) {
        await assert.rejects(run(env, migration({ name: 'bad', operations: [{ rename_constraint: body }] })), (err: Error & { exitCode?: number }) => {
          assert.equal(err.exitCode, 2);
          assert.match(err.message, expect);
          return true;
        });
      }
      assert.deepEqual(await catalogSnapshot(env.old), before);
      assert.deepEqual(await migrationRows(env.old), []);
    });
  });
});
