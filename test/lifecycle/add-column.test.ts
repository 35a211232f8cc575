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
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, email text);
  INSERT INTO users SELECT g, 'User' || g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'u' || g || '@x.io' END
    FROM generate_series(1, ${ROWS}) g;
`;

async function relfilenode(env: Env): Promise<string> {
  return (await env.old.query<{ f: string }>(`SELECT relfilenode::text AS f FROM pg_class WHERE oid = 'public.users'::regclass`)).rows[0]!.f;
}

describe('add_column with up, NOT NULL', () => {
  const m = () =>
    migration({
      name: 'add_name_lower',
      operations: [{ add_column: { table: 'users', column: { name: 'name_lower', type: 'text' }, up: 'lower(name)' } }],
    });
  const vs = 'public_add_name_lower';

  test('start: both versions read and write; complete: final shape', async () => {
    await withDatabase(SETUP, async (env) => {
      const r = await run(env, m());
      assert.equal(r.versionSchema, vs);
      assert.deepEqual(await schemaNames(env.old), [vs]);
      const nv = await newVersion(env.db, vs);

      // The new view has the column; every existing row was backfilled, in several batches.
      assert.deepEqual(
        (await columns(env.old, vs, 'users')).map((c) => c.name),
        ['id', 'name', 'email', 'name_lower'],
      );
      const bad = await nv.query(`SELECT id FROM users WHERE name_lower IS DISTINCT FROM lower(name)`);
      assert.equal(bad.rowCount, 0);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS);
      const cp = await env.old.query(`SELECT rows_done::int AS rows, batches::int AS batches, done FROM tandem.backfill_checkpoints`);
      assert.equal(cp.rows[0].rows, ROWS);
      assert.ok(cp.rows[0].batches >= Math.ceil(ROWS / 7), `expected several batches, got ${cp.rows[0].batches}`);
      assert.equal(cp.rows[0].done, true);

      // Old version: insert, update, upsert with RETURNING; the new version sees `up` applied.
      const ins = await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice') RETURNING id, name, email`);
      assert.deepEqual(ins.rows, [{ id: 1001, name: 'Alice', email: null }]);
      const upd = await env.old.query(`UPDATE users SET name = 'BOB' WHERE id = 1 RETURNING name`);
      assert.deepEqual(upd.rows, [{ name: 'BOB' }]);
      const ups = await env.old.query(`INSERT INTO users (id, name) VALUES (3, 'Eve') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING id, name`);
      assert.deepEqual(ups.rows, [{ id: 3, name: 'Eve' }]);
      const seen = await nv.query(`SELECT id, name_lower FROM users WHERE id IN (1, 3, 1001) ORDER BY id`);
      assert.deepEqual(seen.rows, [
        { id: 1, name_lower: 'bob' },
        { id: 3, name_lower: 'eve' },
        { id: 1001, name_lower: 'alice' },
      ]);

      // New version: its own value is kept (not overwritten by `up`), and the old version sees the row.
      const nIns = await nv.query(`INSERT INTO users (id, name, name_lower) VALUES (1002, 'Carol', 'carol-custom') RETURNING *`);
      assert.deepEqual(nIns.rows, [{ id: 1002, name: 'Carol', email: null, name_lower: 'carol-custom' }]);
      const nUps = await nv.query(
        `INSERT INTO users (id, name, name_lower) VALUES (2, 'Dan', 'dan!') ON CONFLICT (id) DO UPDATE
           SET name = EXCLUDED.name, name_lower = EXCLUDED.name_lower RETURNING id, name, email, name_lower`,
      );
      assert.deepEqual(nUps.rows, [{ id: 2, name: 'Dan', email: 'u2@x.io', name_lower: 'dan!' }]);
      const nUpsNew = await nv.query(
        `INSERT INTO users (id, name, name_lower) VALUES (1005, 'Fay', 'fay!') ON CONFLICT (id) DO UPDATE
           SET name = EXCLUDED.name RETURNING id, name_lower`,
      );
      assert.deepEqual(nUpsNew.rows, [{ id: 1005, name_lower: 'fay!' }]);
      for (const [mode, id] of [
        ['use_version', 1003],
        ['set_local', 1004],
      ] as const) {
        const rr = await inNewVersionTransaction(
          nv,
          mode,
          vs,
          'add_name_lower',
          'users',
          `INSERT INTO {t} (id, name, name_lower) VALUES ($1, 'Gus', 'gus!') RETURNING name_lower`,
          [id],
        );
        assert.deepEqual(rr.rows, [{ name_lower: 'gus!' }], mode);
      }
      const oldSees = await env.old.query(`SELECT id, name FROM users WHERE id IN (2, 1002, 1003, 1004, 1005) ORDER BY id`);
      assert.deepEqual(oldSees.rows, [
        { id: 2, name: 'Dan' },
        { id: 1002, name: 'Carol' },
        { id: 1003, name: 'Gus' },
        { id: 1004, name: 'Gus' },
        { id: 1005, name: 'Fay' },
      ]);
      const kept = await nv.query(`SELECT id, name_lower FROM users WHERE id IN (1003, 1004) ORDER BY id`);
      assert.deepEqual(kept.rows, [
        { id: 1003, name_lower: 'gus!' },
        { id: 1004, name_lower: 'gus!' },
      ]);

      // The new version enforces NOT NULL already.
      await assert.rejects(nv.query(`INSERT INTO users (id, name) VALUES (1006, 'Hal')`), { code: '23514' });

      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'users'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'name', type: 'text', notNull: true },
        { name: 'email', type: 'text', notNull: false },
        { name: 'name_lower', type: 'text', notNull: true },
      ]);
      await assertNoTandemLeftovers(env.old, 'users');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      const finalBad = await env.old.query(`SELECT id FROM users WHERE id < 1000 AND id NOT IN (2) AND name_lower IS DISTINCT FROM lower(name)`);
      assert.equal(finalBad.rowCount, 0);
      assert.equal((await env.old.query(`SELECT name_lower FROM users WHERE id = 1002`)).rows[0].name_lower, 'carol-custom');
      // The latest version schema keeps working after complete.
      const after = await nv.query(`INSERT INTO users (id, name, name_lower) VALUES (1007, 'Ivy', 'ivy') RETURNING name_lower`);
      assert.deepEqual(after.rows, [{ name_lower: 'ivy' }]);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'add_name_lower', phase: 'completed' }]);
    });
  });

  test('rollback after writes through both versions restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice')`);
      await nv.query(`INSERT INTO users (id, name, name_lower) VALUES (1002, 'Carol', 'c')`);
      await nv.query(`UPDATE users SET name = 'Zed', name_lower = 'z' WHERE id = 5`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      const rows = await env.old.query(`SELECT id, name FROM users WHERE id IN (5, 1001, 1002) ORDER BY id`);
      assert.deepEqual(rows.rows, [
        { id: 5, name: 'Zed' },
        { id: 1001, name: 'Alice' },
        { id: 1002, name: 'Carol' },
      ]);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'add_name_lower', phase: 'rolled_back' }]);
    });
  });
});

describe('add_column with a literal default (NOT NULL)', () => {
  const m = () => migration({ name: 'add_score', operations: [{ add_column: { table: 'users', column: { name: 'score', type: 'integer', default: '0' } } }] });
  const vs = 'public_add_score';

  test('start without a rewrite; both versions; complete', async () => {
    await withDatabase(SETUP, async (env) => {
      const file = await relfilenode(env);
      await run(env, m());
      assert.equal(await relfilenode(env), file, 'adding a column with a literal default must not rewrite the table');
      const nv = await newVersion(env.db, vs);
      const zero = await nv.query(`SELECT count(*)::int AS n FROM users WHERE score = 0`);
      assert.equal(zero.rows[0].n, ROWS);

      const o = await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice') RETURNING *`);
      assert.deepEqual(o.rows, [{ id: 1001, name: 'Alice', email: null, score: 0 }]);
      const n = await nv.query(`INSERT INTO users (id, name, score) VALUES (1002, 'Bob', 7) RETURNING id, score`);
      assert.deepEqual(n.rows, [{ id: 1002, score: 7 }]);
      const u = await nv.query(
        `INSERT INTO users (id, name, score) VALUES (1, 'One', 11) ON CONFLICT (id) DO UPDATE SET score = EXCLUDED.score + users.score RETURNING id, name, score`,
      );
      assert.deepEqual(u.rows, [{ id: 1, name: 'User1', score: 11 }]);
      await assert.rejects(nv.query(`INSERT INTO users (id, name, score) VALUES (1003, 'Cy', NULL)`), { code: '23502' });
      const oldView = await env.old.query(`SELECT id, name, score FROM users WHERE id IN (1, 1002) ORDER BY id`);
      assert.deepEqual(oldView.rows, [
        { id: 1, name: 'User1', score: 11 },
        { id: 1002, name: 'Bob', score: 7 },
      ]);
      const fromNew = await nv.query(`SELECT id, score FROM users WHERE id = 1001`);
      assert.deepEqual(fromNew.rows, [{ id: 1001, score: 0 }]);

      await runComplete(env);
      assert.deepEqual((await columns(env.old, 'public', 'users')).at(-1), { name: 'score', type: 'integer', notNull: true });
      const def = await env.old.query(`SELECT column_default FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'score'`);
      assert.equal(def.rows[0].column_default, '0');
      await assertNoTandemLeftovers(env.old, 'users');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS + 2);
    });
  });

  test('rollback restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      const nv = await newVersion(env.db, vs);
      await nv.query(`INSERT INTO users (id, name, score) VALUES (1002, 'Bob', 7)`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.deepEqual((await env.old.query(`SELECT name FROM users WHERE id = 1002`)).rows, [{ name: 'Bob' }]);
    });
  });
});

describe('add_column with a non-literal default (now())', () => {
  const m = () => migration({ name: 'add_created', operations: [{ add_column: { table: 'users', column: { name: 'created_at', type: 'timestamptz', default: 'now()' } } }] });
  const vs = 'public_add_created';

  test('start backfills existing rows without a rewrite; both versions; complete', async () => {
    await withDatabase(SETUP, async (env) => {
      const t0 = (await env.old.query<{ t: Date }>(`SELECT clock_timestamp() AS t`)).rows[0]!.t;
      const file = await relfilenode(env);
      await run(env, m());
      assert.equal(await relfilenode(env), file, 'a volatile default must not rewrite the table');
      const nv = await newVersion(env.db, vs);
      const filled = await nv.query(`SELECT count(*)::int AS n, min(created_at) AS lo FROM users WHERE created_at IS NOT NULL`);
      assert.equal(filled.rows[0].n, ROWS);
      assert.ok(filled.rows[0].lo >= t0, 'backfilled values come from now() at backfill time');

      const o = await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice') RETURNING id, name`);
      assert.deepEqual(o.rows, [{ id: 1001, name: 'Alice' }]);
      const n = await nv.query(`INSERT INTO users (id, name) VALUES (1002, 'Bob') RETURNING id, created_at IS NOT NULL AS has`);
      assert.deepEqual(n.rows, [{ id: 1002, has: true }]);
      const fixed = await nv.query(
        `INSERT INTO users (id, name, created_at) VALUES (1003, 'Cy', '2001-02-03T04:05:06Z') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING created_at`,
      );
      assert.equal((fixed.rows[0].created_at as Date).toISOString(), '2001-02-03T04:05:06.000Z');
      await assert.rejects(nv.query(`INSERT INTO users (id, name, created_at) VALUES (1004, 'Di', NULL)`), { code: '23514' });
      const nulls = await nv.query(`SELECT count(*)::int AS n FROM users WHERE created_at IS NULL`);
      assert.equal(nulls.rows[0].n, 0);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS + 3);

      await runComplete(env);
      assert.deepEqual((await columns(env.old, 'public', 'users')).at(-1), { name: 'created_at', type: 'timestamp with time zone', notNull: true });
      await assertNoTandemLeftovers(env.old, 'users');
      assert.deepEqual(await schemaNames(env.old), [vs]);
      const late = await env.old.query(`INSERT INTO users (id, name) VALUES (1005, 'Ed') RETURNING created_at IS NOT NULL AS has`);
      assert.deepEqual(late.rows, [{ has: true }]);
    });
  });

  test('rollback restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'Alice')`);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
    });
  });
});

describe('add_column to a table created by the same migration', () => {
  const m = () =>
    migration({
      name: 'teams',
      operations: [
        {
          create_table: {
            name: 'teams',
            columns: [
              { name: 'id', type: 'integer', pk: true },
              { name: 'title', type: 'text' },
            ],
          },
        },
        { add_column: { table: 'teams', column: { name: 'slug', type: 'text' }, up: 'lower(title)' } },
        { add_column: { table: 'teams', column: { name: 'created_at', type: 'timestamptz', default: 'now()' } } },
      ],
    });

  test('start, write through the new version, complete', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      const nv = await newVersion(env.db, 'public_teams');
      assert.deepEqual(
        (await columns(env.old, 'public_teams', 'teams')).map((c) => c.name),
        ['id', 'title', 'slug', 'created_at'],
      );
      const r = await nv.query(`INSERT INTO teams (id, title, slug) VALUES (1, 'Red', 'red') RETURNING id, title, slug, created_at IS NOT NULL AS stamped`);
      assert.deepEqual(r.rows, [{ id: 1, title: 'Red', slug: 'red', stamped: true }]);
      // The table is new: the column is NOT NULL right away (not a NOT VALID check to validate later).
      await assert.rejects(nv.query(`INSERT INTO teams (id, title) VALUES (2, 'Blue')`), { code: '23502' });
      await runComplete(env);
      assert.deepEqual(await columns(env.old, 'public', 'teams'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'title', type: 'text', notNull: true },
        { name: 'slug', type: 'text', notNull: true },
        { name: 'created_at', type: 'timestamp with time zone', notNull: true },
      ]);
      await assertNoTandemLeftovers(env.old, 'teams');
      assert.deepEqual((await env.old.query(`SELECT id, slug FROM teams`)).rows, [{ id: 1, slug: 'red' }]);
    });
  });

  test('rollback restores the catalog', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
    });
  });
});
