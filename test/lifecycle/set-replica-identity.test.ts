import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Env, migration, migrationRows, newVersion, run, runComplete, runRollback, schemaNames, snapshot, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL CONSTRAINT users_email_key UNIQUE);
  CREATE INDEX users_name_idx ON users (name);
  CREATE UNIQUE INDEX users_name_partial ON users (name) WHERE id > 10;
  CREATE UNIQUE INDEX users_lower_email ON users (lower(email));
  CREATE TABLE orders (id integer PRIMARY KEY, ref text NOT NULL CONSTRAINT orders_ref_key UNIQUE, note text CONSTRAINT orders_note_key UNIQUE);
  ALTER TABLE orders REPLICA IDENTITY USING INDEX orders_ref_key;
  INSERT INTO users SELECT g, 'User' || g, 'u' || g || '@x.io' FROM generate_series(1, 50) g;
`;

/** relreplident of the table, and the index marked as its replica identity, if any. */
async function identity(env: Env, table: string): Promise<{ ident: string; index: string | null }> {
  const r = await env.old.query<{ ident: string; index: string | null }>(
    `SELECT c.relreplident::text AS ident,
            (SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS index
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [`public.${table}`],
  );
  return r.rows[0]!;
}

const full = () => migration({ name: 'users_full', operations: [{ set_replica_identity: { table: 'users', identity: { type: 'full', index: '' } } }] });

describe('set_replica_identity', () => {
  test('FULL takes effect at start and is kept after complete', async () => {
    await withDatabase(SETUP, async (env) => {
      assert.deepEqual(await identity(env, 'users'), { ident: 'd', index: null });
      await run(env, full());
      assert.deepEqual(await identity(env, 'users'), { ident: 'f', index: null });
      assert.deepEqual(await schemaNames(env.old), ['public_users_full']);
      const nv = await newVersion(env.db, 'public_users_full');
      await nv.query(`UPDATE users SET name = 'x' WHERE id = 1`);
      await env.old.query(`UPDATE users SET name = 'y' WHERE id = 2`);
      await runComplete(env);
      assert.deepEqual(await identity(env, 'users'), { ident: 'f', index: null });
      assert.deepEqual(await migrationRows(env.old), [{ name: 'users_full', phase: 'completed' }]);
    });
  });

  test('rollback restores the previous identity: DEFAULT, or INDEX with its index', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(
        env,
        migration({
          name: 'both_full',
          operations: [
            { set_replica_identity: { table: 'users', identity: { type: 'FULL', index: '' } } },
            { set_replica_identity: { table: 'orders', identity: { type: 'FULL', index: '' } } },
          ],
        }),
      );
      assert.deepEqual(await identity(env, 'users'), { ident: 'f', index: null });
      assert.deepEqual(await identity(env, 'orders'), { ident: 'f', index: null });
      await runRollback(env);
      assert.deepEqual(await identity(env, 'users'), { ident: 'd', index: null });
      assert.deepEqual(await identity(env, 'orders'), { ident: 'i', index: 'orders_ref_key' });
      assert.deepEqual(await snapshot(env), before);
    });
  });

  test('INDEX uses the named index; rollback and complete', async () => {
    await withDatabase(SETUP, async (env) => {
      const m = () => migration({ name: 'users_by_email', operations: [{ set_replica_identity: { table: 'users', identity: { type: 'index', index: 'users_email_key' } } }] });
      await run(env, m());
      assert.deepEqual(await identity(env, 'users'), { ident: 'i', index: 'users_email_key' });
      await runRollback(env);
      assert.deepEqual(await identity(env, 'users'), { ident: 'd', index: null });

      await run(env, migration({ name: 'users_by_email_2', operations: [{ set_replica_identity: { table: 'users', identity: { type: 'INDEX', index: 'users_email_key' } } }] }));
      await runComplete(env);
      assert.deepEqual(await identity(env, 'users'), { ident: 'i', index: 'users_email_key' });
    });
  });

  test('an unknown type, or an index of another table, is refused with exit 2 and nothing changes', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      for (const [id, expect] of [
        [{ type: 'SOMETIMES', index: '' }, /field "identity\.type": replica identity type must be FULL, DEFAULT, NOTHING or INDEX/],
        [{ type: 'INDEX', index: 'orders_ref_key' }, /field "identity\.index": index "orders_ref_key" is not an index of table "users"/],
        [{ type: 'INDEX', index: 'nope' }, /field "identity\.index": index "nope" is not an index of table "users"/],
        [{ type: 'INDEX', index: 'users_name_idx' }, /field "identity\.index": index "users_name_idx" cannot be a replica identity/],
        [{ type: 'INDEX', index: 'users_name_partial' }, /index "users_name_partial" cannot be a replica identity/],
        [{ type: 'INDEX', index: 'users_lower_email' }, /index "users_lower_email" cannot be a replica identity/],
      ] as const) {
        await assert.rejects(
          run(env, migration({ name: 'bad', operations: [{ set_replica_identity: { table: 'users', identity: id } }] })),
          (err: Error & { exitCode?: number }) => {
            assert.equal(err.exitCode, 2);
            assert.match(err.message, expect);
            return true;
          },
        );
      }
      // A unique index over a nullable column.
      await assert.rejects(
        run(env, migration({ name: 'bad', operations: [{ set_replica_identity: { table: 'orders', identity: { type: 'INDEX', index: 'orders_note_key' } } }] })),
        (err: Error & { exitCode?: number }) => err.exitCode === 2 && /index "orders_note_key" cannot be a replica identity/.test(err.message),
      );
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await identity(env, 'users'), { ident: 'd', index: null });
      assert.deepEqual(await migrationRows(env.old), []);
    });
  });
});
