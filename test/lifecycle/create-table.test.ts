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
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);
  INSERT INTO users SELECT g, 'User' || g FROM generate_series(1, ${ROWS}) g;
`;

const m = () =>
  migration({
    name: 'create_orders',
    operations: [
      {
        create_table: {
          name: 'orders',
          comment: 'customer orders',
          columns: [
            { name: 'id', type: 'serial', pk: true },
            { name: 'user_id', type: 'integer', references: { name: 'orders_user_fk', table: 'users', column: 'id' } },
            { name: 'sku', type: 'text', unique: true },
            { name: 'total', type: 'numeric(10,2)', default: '0', check: { name: 'orders_total_positive', constraint: 'total >= 0' } },
            { name: 'note', type: 'text', nullable: true, comment: 'free text' },
          ],
        },
      },
    ],
  });
const vs = 'public_create_orders';

describe('create_table', () => {
  test('start: the new version reads and writes the table, the old one keeps working; complete keeps it', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      const expected = [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'user_id', type: 'integer', notNull: true },
        { name: 'sku', type: 'text', notNull: true },
        { name: 'total', type: 'numeric(10,2)', notNull: true },
        { name: 'note', type: 'text', notNull: false },
      ];
      assert.deepEqual(await columns(env.old, 'public', 'orders'), expected);
      assert.deepEqual(
        (await columns(env.old, vs, 'orders')).map((c) => c.name),
        expected.map((c) => c.name),
      );
      // Every table of the schema is in the new version.
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS);

      const n = await nv.query(`INSERT INTO orders (user_id, sku) VALUES (1, 'A-1') RETURNING *`);
      assert.deepEqual(n.rows, [{ id: 1, user_id: 1, sku: 'A-1', total: '0.00', note: null }]);
      const n2 = await nv.query(`INSERT INTO orders (user_id, sku, total) VALUES (2, 'A-2', 5) RETURNING id`);
      assert.deepEqual(n2.rows, [{ id: 2 }]);
      const up = await nv.query(
        `INSERT INTO orders (user_id, sku, total) VALUES (3, 'A-1', 9.5) ON CONFLICT (sku) DO UPDATE SET total = orders.total + EXCLUDED.total RETURNING id, user_id, total`,
      );
      assert.deepEqual(up.rows, [{ id: 1, user_id: 1, total: '9.50' }]);
      await assert.rejects(nv.query(`INSERT INTO orders (user_id, sku, total) VALUES (1, 'A-3', -1)`), { code: '23514' });
      await assert.rejects(nv.query(`INSERT INTO orders (user_id, sku) VALUES (9999, 'A-4')`), { code: '23503' });
      await assert.rejects(nv.query(`INSERT INTO orders (sku) VALUES ('A-5')`), { code: '23502' });
      const tx = await inNewVersionTransaction(nv, 'use_version', vs, 'create_orders', 'orders', `INSERT INTO {t} (user_id, sku) VALUES (4, 'A-6') RETURNING sku`);
      assert.deepEqual(tx.rows, [{ sku: 'A-6' }]);

      // The old version keeps working on its tables and can see the new one in public.
      await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice')`);
      assert.deepEqual((await nv.query(`SELECT name FROM users WHERE id = 1001`)).rows, [{ name: 'Alice' }]);
      const o = await env.old.query(`INSERT INTO orders (user_id, sku) VALUES (1001, 'B-1') RETURNING user_id, sku`);
      assert.deepEqual(o.rows, [{ user_id: 1001, sku: 'B-1' }]);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n, 4);
      const comments = await env.old.query(`SELECT obj_description('public.orders'::regclass, 'pg_class') AS t, col_description('public.orders'::regclass, 5) AS c`);
      assert.deepEqual(comments.rows, [{ t: 'customer orders', c: 'free text' }]);

      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'orders'), expected);
      await assertNoTandemLeftovers(env.old, 'orders');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n, 4);
      // (PostgreSQL 18 also lists NOT NULL constraints, contype 'n'; the columns above cover them.)
      const cons = await env.old.query(`SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'public.orders'::regclass AND contype <> 'n' ORDER BY conname`);
      assert.deepEqual(cons.rows, [
        { conname: 'orders_pkey', contype: 'p', convalidated: true },
        { conname: 'orders_sku_key', contype: 'u', convalidated: true },
        { conname: 'orders_total_positive', contype: 'c', convalidated: true },
        { conname: 'orders_user_fk', contype: 'f', convalidated: true },
      ]);
      const late = await nv.query(`INSERT INTO orders (user_id, sku) VALUES (5, 'C-1') RETURNING id, user_id`);
      assert.equal(late.rows[0].user_id, 5);
      assert.ok(late.rows[0].id > 2, "ids keep coming from the table's sequence");
      assert.deepEqual(await migrationRows(env.old), [{ name: 'create_orders', phase: 'completed' }]);
    });
  });

  test('rollback drops the table, its sequence and the version schema', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await nv.query(`INSERT INTO orders (user_id, sku) VALUES (1, 'A-1')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.equal((await env.old.query(`SELECT to_regclass('public.orders') IS NULL AS gone`)).rows[0].gone, true);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS);
    });
  });
});
