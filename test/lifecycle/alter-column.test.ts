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

describe('alter_column type change with up/down', () => {
  const SETUP = `
    CREATE TABLE items (id integer PRIMARY KEY, code text NOT NULL, qty text NOT NULL DEFAULT '0');
    INSERT INTO items SELECT g, 'C' || g, g::text FROM generate_series(1, ${ROWS}) g;
  `;
  const m = () =>
    migration({
      name: '0007_qty-int.v1', // needs quoting everywhere
      operations: [{ alter_column: { table: 'items', column: 'qty', type: 'integer', up: 'CAST(qty AS integer)', down: 'CAST(qty AS text)' } }],
    });
  const vs = 'public_0007_qty-int.v1';

  test('start: each version reads and writes its type; complete: the column is integer', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      assert.deepEqual(
        (await columns(env.old, vs, 'items')).map((c) => [c.name, c.type]),
        [
          ['id', 'integer'],
          ['code', 'text'],
          ['qty', 'integer'],
        ],
      );
      assert.deepEqual(
        (await columns(env.old, 'public', 'items')).find((c) => c.name === 'qty'),
        { name: 'qty', type: 'text', notNull: true },
      );
      // Backfilled: every existing row has its integer value.
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM items WHERE qty = id`)).rows[0].n, ROWS);
      assert.equal((await nv.query(`SELECT sum(qty)::int AS s FROM items`)).rows[0].s, (ROWS * (ROWS + 1)) / 2);

      // Old version (text) → new version (integer).
      const o = await env.old.query(`INSERT INTO items (id, code, qty) VALUES (1001, 'A', '42') RETURNING qty`);
      assert.deepEqual(o.rows, [{ qty: '42' }]);
      await env.old.query(`UPDATE items SET qty = '7' WHERE id = 1`);
      const od = await env.old.query(`INSERT INTO items (id, code) VALUES (1002, 'B') RETURNING qty`);
      assert.deepEqual(od.rows, [{ qty: '0' }]);
      const ou = await env.old.query(`INSERT INTO items (id, code, qty) VALUES (2, 'X', '99') ON CONFLICT (id) DO UPDATE SET qty = EXCLUDED.qty RETURNING id, qty`);
      assert.deepEqual(ou.rows, [{ id: 2, qty: '99' }]);
      assert.deepEqual((await nv.query(`SELECT id, qty FROM items WHERE id IN (1, 2, 1001, 1002) ORDER BY id`)).rows, [
        { id: 1, qty: 7 },
        { id: 2, qty: 99 },
        { id: 1001, qty: 42 },
        { id: 1002, qty: 0 },
      ]);

      // New version (integer) → old version (text); integer arithmetic in the upsert.
      const n = await nv.query(`INSERT INTO items (id, code, qty) VALUES (1003, 'C', 5) RETURNING *`);
      assert.deepEqual(n.rows, [{ id: 1003, code: 'C', qty: 5 }]);
      const nd = await nv.query(`INSERT INTO items (id, code) VALUES (1004, 'D') RETURNING qty`);
      assert.deepEqual(nd.rows, [{ qty: 0 }], 'the default is carried over to the new type');
      const nu = await nv.query(`INSERT INTO items (id, code, qty) VALUES (3, 'Y', 10) ON CONFLICT (id) DO UPDATE SET qty = items.qty + EXCLUDED.qty RETURNING id, qty`);
      assert.deepEqual(nu.rows, [{ id: 3, qty: 13 }]);
      await assert.rejects(nv.query(`INSERT INTO items (id, code, qty) VALUES (1005, 'E', 'many')`), { code: '22P02' });
      await inNewVersionTransaction(nv, 'use_version', vs, '0007_qty-int.v1', 'items', `UPDATE {t} SET qty = qty * 100 WHERE id = 4`);
      await inNewVersionTransaction(nv, 'set_local', vs, '0007_qty-int.v1', 'items', `INSERT INTO {t} (id, code, qty) VALUES (1006, 'F', 66)`);
      assert.deepEqual((await env.old.query(`SELECT id, qty FROM items WHERE id IN (3, 4, 1003, 1004, 1006) ORDER BY id`)).rows, [
        { id: 3, qty: '13' },
        { id: 4, qty: '400' },
        { id: 1003, qty: '5' },
        { id: 1004, qty: '0' },
        { id: 1006, qty: '66' },
      ]);
      assert.deepEqual((await nv.query(`SELECT qty FROM items WHERE id = 4`)).rows, [{ qty: 400 }]);

      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'items'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'code', type: 'text', notNull: true },
        { name: 'qty', type: 'integer', notNull: true },
      ]);
      await assertNoTandemLeftovers(env.old, 'items');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM items WHERE id <= ${ROWS} AND id > 4 AND qty <> id`)).rows[0].n, 0);
      assert.deepEqual((await env.old.query(`SELECT id, qty FROM items WHERE id IN (1, 2, 3, 4, 1001, 1003) ORDER BY id`)).rows, [
        { id: 1, qty: 7 },
        { id: 2, qty: 99 },
        { id: 3, qty: 13 },
        { id: 4, qty: 400 },
        { id: 1001, qty: 42 },
        { id: 1003, qty: 5 },
      ]);
      assert.deepEqual((await env.old.query(`INSERT INTO items (id, code) VALUES (1007, 'G') RETURNING qty`)).rows, [{ qty: 0 }]);
      assert.deepEqual((await nv.query(`SELECT qty FROM items WHERE id = 1007`)).rows, [{ qty: 0 }]);
    });
  });

  test('rollback after writes through both versions restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await nv.query(`UPDATE items SET qty = 500 WHERE id = 5`);
      await env.old.query(`INSERT INTO items (id, code, qty) VALUES (1001, 'A', '42')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.deepEqual((await env.old.query(`SELECT id, qty FROM items WHERE id IN (5, 1001) ORDER BY id`)).rows, [
        { id: 5, qty: '500' },
        { id: 1001, qty: '42' },
      ]);
    });
  });
});

describe('alter_column nullable: false with up', () => {
  const SETUP = `
    CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, nickname text);
    INSERT INTO users SELECT g, 'User' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'nick' || g END FROM generate_series(1, ${ROWS}) g;
  `;
  const m = () => migration({ name: 'nick_not_null', operations: [{ alter_column: { table: 'users', column: 'nickname', nullable: false, up: `coalesce(nickname, 'anon')` } }] });
  const vs = 'public_nick_not_null';

  test('start: NULLs from the old version get `up`, the new version must give a value; complete sets NOT NULL', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users WHERE nickname IS NULL`)).rows[0].n, 0);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users WHERE nickname = 'anon'`)).rows[0].n, Math.floor(ROWS / 3));
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users WHERE nickname IS NULL`)).rows[0].n, Math.floor(ROWS / 3));

      const o = await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice') RETURNING nickname`);
      assert.deepEqual(o.rows, [{ nickname: null }]);
      await env.old.query(`INSERT INTO users (id, name, nickname) VALUES (1002, 'Bob', 'bobby')`);
      await env.old.query(`INSERT INTO users (id, name, nickname) VALUES (1, 'One', NULL) ON CONFLICT (id) DO UPDATE SET nickname = EXCLUDED.nickname`);
      assert.deepEqual((await nv.query(`SELECT id, nickname FROM users WHERE id IN (1, 1001, 1002) ORDER BY id`)).rows, [
        { id: 1, nickname: 'anon' },
        { id: 1001, nickname: 'anon' },
        { id: 1002, nickname: 'bobby' },
      ]);

      await assert.rejects(nv.query(`INSERT INTO users (id, name) VALUES (1003, 'Cy')`), { code: '23514' });
      await assert.rejects(nv.query(`UPDATE users SET nickname = NULL WHERE id = 2`), { code: '23514' });
      const n = await nv.query(`INSERT INTO users (id, name, nickname) VALUES (1004, 'Di', 'dd') RETURNING *`);
      assert.deepEqual(n.rows, [{ id: 1004, name: 'Di', nickname: 'dd' }]);
      const nu = await nv.query(
        `INSERT INTO users (id, name, nickname) VALUES (3, 'Tre', 'tre') ON CONFLICT (id) DO UPDATE SET nickname = EXCLUDED.nickname RETURNING id, name, nickname`,
      );
      assert.deepEqual(nu.rows, [{ id: 3, name: 'User3', nickname: 'tre' }]);
      await inNewVersionTransaction(nv, 'set_local', vs, 'nick_not_null', 'users', `UPDATE {t} SET nickname = 'six' WHERE id = 6`);
      assert.deepEqual((await env.old.query(`SELECT id, nickname FROM users WHERE id IN (3, 6, 1004) ORDER BY id`)).rows, [
        { id: 3, nickname: 'tre' },
        { id: 6, nickname: 'six' },
        { id: 1004, nickname: 'dd' },
      ]);

      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'users'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'name', type: 'text', notNull: true },
        { name: 'nickname', type: 'text', notNull: true },
      ]);
      await assertNoTandemLeftovers(env.old, 'users');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      // Originally NULL: ids divisible by 3; plus ids 1 and 1001 written NULL by the old version,
      // minus ids 3 and 6 given a value by the new one.
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users WHERE nickname = 'anon'`)).rows[0].n, Math.floor(ROWS / 3) + 2 - 2);
      assert.deepEqual((await env.old.query(`SELECT id, nickname FROM users WHERE id IN (1, 2, 1002) ORDER BY id`)).rows, [
        { id: 1, nickname: 'anon' },
        { id: 2, nickname: 'nick2' },
        { id: 1002, nickname: 'bobby' },
      ]);
      await assert.rejects(env.old.query(`INSERT INTO users (id, name) VALUES (1005, 'Ed')`), { code: '23502' });
    });
  });

  test('rollback restores the catalog and the NULLs', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users WHERE nickname IS NULL`)).rows[0].n, Math.floor(ROWS / 3) + 1);
      await env.old.query(`INSERT INTO users (id, name) VALUES (1002, 'Bob')`);
    });
  });
});

describe('alter_column nullable: true with down', () => {
  const SETUP = `
    CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL);
    INSERT INTO users SELECT g, 'User' || g, 'u' || g || '@x.io' FROM generate_series(1, ${ROWS}) g;
  `;
  const m = () =>
    migration({ name: 'email_nullable', operations: [{ alter_column: { table: 'users', column: 'email', nullable: true, down: `coalesce(email, 'unknown@x.io')` } }] });
  const vs = 'public_email_nullable';

  test('start: the new version may write NULL, the old one sees `down`; complete drops NOT NULL', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users WHERE email = 'u' || id || '@x.io'`)).rows[0].n, ROWS);

      const n = await nv.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice') RETURNING id, email`);
      assert.deepEqual(n.rows, [{ id: 1001, email: null }]);
      const nu = await nv.query(`INSERT INTO users (id, name, email) VALUES (1, 'One', NULL) ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email RETURNING id, email`);
      assert.deepEqual(nu.rows, [{ id: 1, email: null }]);
      await nv.query(`INSERT INTO users (id, name, email) VALUES (1002, 'Bob', 'b@x.io')`);
      await inNewVersionTransaction(nv, 'use_version', vs, 'email_nullable', 'users', `UPDATE {t} SET email = NULL WHERE id = 2`);
      assert.deepEqual((await env.old.query(`SELECT id, email FROM users WHERE id IN (1, 2, 1001, 1002) ORDER BY id`)).rows, [
        { id: 1, email: 'unknown@x.io' },
        { id: 2, email: 'unknown@x.io' },
        { id: 1001, email: 'unknown@x.io' },
        { id: 1002, email: 'b@x.io' },
      ]);

      // The old version keeps its NOT NULL, and its writes reach the new version.
      await assert.rejects(env.old.query(`INSERT INTO users (id, name) VALUES (1003, 'Cy')`), { code: '23502' });
      const o = await env.old.query(`INSERT INTO users (id, name, email) VALUES (1004, 'Di', 'd@x.io') RETURNING email`);
      assert.deepEqual(o.rows, [{ email: 'd@x.io' }]);
      await env.old.query(`UPDATE users SET email = 'three@x.io' WHERE id = 3`);
      assert.deepEqual((await nv.query(`SELECT id, email FROM users WHERE id IN (3, 1004) ORDER BY id`)).rows, [
        { id: 3, email: 'three@x.io' },
        { id: 1004, email: 'd@x.io' },
      ]);

      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'users'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'name', type: 'text', notNull: true },
        { name: 'email', type: 'text', notNull: false },
      ]);
      await assertNoTandemLeftovers(env.old, 'users');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      // What the new version wrote (NULL) is what remains.
      assert.deepEqual((await env.old.query(`SELECT id, email FROM users WHERE id IN (1, 2, 3, 1001, 1002) ORDER BY id`)).rows, [
        { id: 1, email: null },
        { id: 2, email: null },
        { id: 3, email: 'three@x.io' },
        { id: 1001, email: null },
        { id: 1002, email: 'b@x.io' },
      ]);
      await env.old.query(`INSERT INTO users (id, name) VALUES (1005, 'Ed')`);
    });
  });

  test('rollback restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await nv.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.deepEqual((await env.old.query(`SELECT email FROM users WHERE id = 1001`)).rows, [{ email: 'unknown@x.io' }]);
    });
  });
});

describe('alter_column name + type + nullable together', () => {
  const SETUP = `
    CREATE TABLE orders (id integer PRIMARY KEY, ref text NOT NULL, amount text);
    INSERT INTO orders SELECT g, 'R' || g, CASE WHEN g % 4 = 0 THEN NULL ELSE (g || '.25') END FROM generate_series(1, ${ROWS}) g;
  `;
  const m = () =>
    migration({
      name: 'amount_cents',
      operations: [
        {
          alter_column: {
            table: 'orders',
            column: 'amount',
            name: 'amount_cents',
            type: 'bigint',
            nullable: false,
            up: 'coalesce(round(CAST(amount AS numeric) * 100)::bigint, 0)',
            down: 'CAST(round(amount_cents / 100.0, 2) AS text)',
          },
        },
      ],
    });
  const vs = 'public_amount_cents';

  test('start: both versions; complete: renamed, retyped, NOT NULL', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      assert.deepEqual(
        (await columns(env.old, vs, 'orders')).map((c) => [c.name, c.type]),
        [
          ['id', 'integer'],
          ['ref', 'text'],
          ['amount_cents', 'bigint'],
        ],
      );
      assert.deepEqual((await nv.query(`SELECT id, amount_cents::int AS c FROM orders WHERE id IN (1, 4, 5) ORDER BY id`)).rows, [
        { id: 1, c: 125 },
        { id: 4, c: 0 },
        { id: 5, c: 525 },
      ]);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM orders WHERE amount_cents IS NULL`)).rows[0].n, 0);
      await assert.rejects(nv.query(`SELECT amount FROM orders`), { code: '42703' });

      await env.old.query(`INSERT INTO orders (id, ref, amount) VALUES (1001, 'A', '1.50')`);
      await env.old.query(`INSERT INTO orders (id, ref) VALUES (1002, 'B')`);
      const ou = await env.old.query(`INSERT INTO orders (id, ref, amount) VALUES (2, 'X', '0.99') ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount RETURNING amount`);
      assert.deepEqual(ou.rows, [{ amount: '0.99' }]);
      assert.deepEqual((await nv.query(`SELECT id, amount_cents::int AS c FROM orders WHERE id IN (2, 1001, 1002) ORDER BY id`)).rows, [
        { id: 2, c: 99 },
        { id: 1001, c: 150 },
        { id: 1002, c: 0 },
      ]);

      const n = await nv.query(`INSERT INTO orders (id, ref, amount_cents) VALUES (1003, 'C', 999) RETURNING id, ref, amount_cents::int AS c`);
      assert.deepEqual(n.rows, [{ id: 1003, ref: 'C', c: 999 }]);
      const nu = await nv.query(
        `INSERT INTO orders (id, ref, amount_cents) VALUES (3, 'Y', 1) ON CONFLICT (id) DO UPDATE SET amount_cents = orders.amount_cents + EXCLUDED.amount_cents RETURNING amount_cents::int AS c`,
      );
      assert.deepEqual(nu.rows, [{ c: 326 }]);
      await assert.rejects(nv.query(`INSERT INTO orders (id, ref) VALUES (1004, 'D')`), { code: '23514' });
      assert.deepEqual((await env.old.query(`SELECT id, amount FROM orders WHERE id IN (3, 1003) ORDER BY id`)).rows, [
        { id: 3, amount: '3.26' },
        { id: 1003, amount: '9.99' },
      ]);

      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'orders'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'ref', type: 'text', notNull: true },
        { name: 'amount_cents', type: 'bigint', notNull: true },
      ]);
      await assertNoTandemLeftovers(env.old, 'orders');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      assert.deepEqual((await env.old.query(`SELECT id, amount_cents::int AS c FROM orders WHERE id IN (1, 3, 4, 1001, 1002, 1003) ORDER BY id`)).rows, [
        { id: 1, c: 125 },
        { id: 3, c: 326 },
        { id: 4, c: 0 },
        { id: 1001, c: 150 },
        { id: 1002, c: 0 },
        { id: 1003, c: 999 },
      ]);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'amount_cents', phase: 'completed' }]);
    });
  });

  test('rollback restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await nv.query(`UPDATE orders SET amount_cents = 12345 WHERE id = 8`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.deepEqual((await env.old.query(`SELECT amount FROM orders WHERE id = 8`)).rows, [{ amount: '123.45' }]);
    });
  });
});
