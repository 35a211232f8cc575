import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertNoTandemLeftovers,
  columns,
  type Env,
  inNewVersionTransaction,
  migration,
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
  INSERT INTO users SELECT g, 'User' || g, 'u' || g || '@x.io' FROM generate_series(1, ${ROWS}) g;
`;

// A name with '-' and '.': the version schema needs quoting everywhere.
const m = () => migration({ name: '0003_rename-email.v2', operations: [{ rename_column: { table: 'users', from: 'email', to: 'email_address' } }] });
const vs = 'public_0003_rename-email.v2';

async function relfilenode(env: Env): Promise<string> {
  return (await env.old.query<{ f: string }>(`SELECT relfilenode::text AS f FROM pg_class WHERE oid = 'public.users'::regclass`)).rows[0]!.f;
}

describe('rename_column', () => {
  test('start: each version uses its name; upsert on the renamed unique column; complete renames', async () => {
    await withDatabase(SETUP, async (env) => {
      const file = await relfilenode(env);
      await run(env, m());
      assert.equal(await relfilenode(env), file);
      const nv = await newVersion(env.db, vs);
      assert.deepEqual(await columns(env.old, vs, 'users'), [
        { name: 'id', type: 'integer', notNull: false },
        { name: 'name', type: 'text', notNull: false },
        { name: 'email_address', type: 'text', notNull: false },
      ]);
      assert.deepEqual(
        (await columns(env.old, 'public', 'users')).map((c) => c.name),
        ['id', 'name', 'email'],
      );
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users WHERE email_address = 'u' || id || '@x.io'`)).rows[0].n, ROWS);

      const o = await env.old.query(`INSERT INTO users (id, name, email) VALUES (1001, 'Alice', 'a@x.io') RETURNING email`);
      assert.deepEqual(o.rows, [{ email: 'a@x.io' }]);
      assert.deepEqual((await nv.query(`SELECT email_address FROM users WHERE id = 1001`)).rows, [{ email_address: 'a@x.io' }]);

      const n = await nv.query(`INSERT INTO users (id, name, email_address) VALUES (1002, 'Bob', 'b@x.io') RETURNING *`);
      assert.deepEqual(n.rows, [{ id: 1002, name: 'Bob', email_address: 'b@x.io' }]);
      // Conflict target given by the new name, resolved through the view to the unique index.
      const up = await nv.query(
        `INSERT INTO users (id, name, email_address) VALUES (5000, 'Other', 'u7@x.io')
           ON CONFLICT (email_address) DO UPDATE SET name = EXCLUDED.name || '!' RETURNING id, name, email_address`,
      );
      assert.deepEqual(up.rows, [{ id: 7, name: 'Other!', email_address: 'u7@x.io' }]);
      await assert.rejects(nv.query(`INSERT INTO users (id, name, email_address) VALUES (1003, 'Dup', 'b@x.io')`), { code: '23505' });
      for (const [mode, id] of [
        ['use_version', 1004],
        ['set_local', 1005],
      ] as const) {
        const r = await inNewVersionTransaction(
          nv,
          mode,
          vs,
          '0003_rename-email.v2',
          'users',
          `INSERT INTO {t} (id, name, email_address) VALUES ($1, 'M', $2) RETURNING email_address`,
          [id, `${mode}@x.io`],
        );
        assert.deepEqual(r.rows, [{ email_address: `${mode}@x.io` }]);
      }
      assert.deepEqual((await env.old.query(`SELECT id, name, email FROM users WHERE id IN (7, 1002, 1004, 1005) ORDER BY id`)).rows, [
        { id: 7, name: 'Other!', email: 'u7@x.io' },
        { id: 1002, name: 'Bob', email: 'b@x.io' },
        { id: 1004, name: 'M', email: 'use_version@x.io' },
        { id: 1005, name: 'M', email: 'set_local@x.io' },
      ]);

      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'users'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'name', type: 'text', notNull: true },
        { name: 'email_address', type: 'text', notNull: true },
      ]);
      await assertNoTandemLeftovers(env.old, 'users');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS + 4);
      // The unique index followed the column.
      await assert.rejects(env.old.query(`INSERT INTO users (id, name, email_address) VALUES (1006, 'Dup', 'b@x.io')`), { code: '23505' });
      assert.deepEqual((await nv.query(`SELECT email_address FROM users WHERE id = 1`)).rows, [{ email_address: 'u1@x.io' }]);
    });
  });

  test('rollback restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await nv.query(`INSERT INTO users (id, name, email_address) VALUES (1002, 'Bob', 'b@x.io')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.deepEqual((await env.old.query(`SELECT email FROM users WHERE id = 1002`)).rows, [{ email: 'b@x.io' }]);
    });
  });
});
