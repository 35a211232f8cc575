import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertNoTandemLeftovers,
  columns,
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
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, legacy text NOT NULL, email text);
  INSERT INTO users SELECT g, 'User' || g, 'L' || g, 'u' || g || '@x.io' FROM generate_series(1, ${ROWS}) g;
`;

const m = () =>
  migration({
    name: 'drop_legacy',
    operations: [{ drop_column: { table: 'users', column: 'legacy', down: `'n/a:' || name` } }],
  });
const vs = 'public_drop_legacy';

describe('drop_column with down', () => {
  test('start: the new version no longer sees the column and `down` fills it for the old; complete drops it', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      assert.deepEqual(
        (await columns(env.old, vs, 'users')).map((c) => c.name),
        ['id', 'name', 'email'],
      );
      // The old version still has it, with its data untouched.
      const untouched = await env.old.query(`SELECT count(*)::int AS n FROM users WHERE legacy = 'L' || id`);
      assert.equal(untouched.rows[0].n, ROWS);
      await assert.rejects(nv.query(`SELECT legacy FROM users`), { code: '42703' });

      // Old version writes, with RETURNING; the new version reads them.
      const o = await env.old.query(`INSERT INTO users (id, name, legacy) VALUES (1001, 'Alice', 'mine') RETURNING id, legacy`);
      assert.deepEqual(o.rows, [{ id: 1001, legacy: 'mine' }]);
      const ou = await env.old.query(
        `INSERT INTO users (id, name, legacy) VALUES (1, 'Uno', 'L1b') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, legacy = EXCLUDED.legacy RETURNING name, legacy`,
      );
      assert.deepEqual(ou.rows, [{ name: 'Uno', legacy: 'L1b' }]);
      assert.deepEqual((await nv.query(`SELECT * FROM users WHERE id IN (1, 1001) ORDER BY id`)).rows, [
        { id: 1, name: 'Uno', email: 'u1@x.io' },
        { id: 1001, name: 'Alice', email: null },
      ]);
      assert.equal((await env.old.query(`SELECT legacy FROM users WHERE id = 1001`)).rows[0].legacy, 'mine');

      // New version writes: `down` gives the old version a value for the column it no longer knows.
      const n = await nv.query(`INSERT INTO users (id, name, email) VALUES (1002, 'Bob', 'b@x.io') RETURNING *`);
      assert.deepEqual(n.rows, [{ id: 1002, name: 'Bob', email: 'b@x.io' }]);
      const nu = await nv.query(`INSERT INTO users (id, name) VALUES (2, 'Two') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING id, name, email`);
      assert.deepEqual(nu.rows, [{ id: 2, name: 'Two', email: 'u2@x.io' }]);
      await inNewVersionTransaction(nv, 'use_version', vs, 'drop_legacy', 'users', `INSERT INTO {t} (id, name) VALUES (1003, 'Cy')`);
      await inNewVersionTransaction(nv, 'set_local', vs, 'drop_legacy', 'users', `UPDATE {t} SET name = 'Dee' WHERE id = 3`);
      assert.deepEqual((await env.old.query(`SELECT id, name, legacy FROM users WHERE id IN (2, 3, 1002, 1003) ORDER BY id`)).rows, [
        { id: 2, name: 'Two', legacy: 'n/a:Two' },
        { id: 3, name: 'Dee', legacy: 'n/a:Dee' },
        { id: 1002, name: 'Bob', legacy: 'n/a:Bob' },
        { id: 1003, name: 'Cy', legacy: 'n/a:Cy' },
      ]);
      // Rows the new version did not write keep the old version's value.
      assert.equal((await env.old.query(`SELECT legacy FROM users WHERE id = 4`)).rows[0].legacy, 'L4');

      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'users'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'name', type: 'text', notNull: true },
        { name: 'email', type: 'text', notNull: false },
      ]);
      await assertNoTandemLeftovers(env.old, 'users');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS + 3);
      assert.deepEqual((await nv.query(`INSERT INTO users (id, name) VALUES (1004, 'Eve') RETURNING id, name, email`)).rows, [{ id: 1004, name: 'Eve', email: null }]);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'drop_legacy', phase: 'completed' }]);
    });
  });

  test('rollback after writes through both versions restores the catalog and the column', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await nv.query(`INSERT INTO users (id, name) VALUES (1002, 'Bob')`);
      await env.old.query(`INSERT INTO users (id, name, legacy) VALUES (1001, 'Al', 'x')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.deepEqual((await env.old.query(`SELECT id, legacy FROM users WHERE id > 1000 ORDER BY id`)).rows, [
        { id: 1001, legacy: 'x' },
        { id: 1002, legacy: 'n/a:Bob' },
      ]);
      // The old version writes as before: no trigger is left to rewrite its values.
      await env.old.query(`UPDATE users SET name = 'Zed' WHERE id = 1001`);
      assert.equal((await env.old.query(`SELECT legacy FROM users WHERE id = 1001`)).rows[0].legacy, 'x');
    });
  });
});
