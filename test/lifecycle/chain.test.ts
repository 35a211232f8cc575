import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { status } from '../../src/engine/status.js';
import {
  assertNoTandemLeftovers,
  columns,
  type Env,
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
  INSERT INTO users SELECT g, 'User' || g, 'user' || g || '@x.io' FROM generate_series(1, ${ROWS}) g;
`;

const m1 = () => migration({ name: 'm1', operations: [{ rename_column: { table: 'users', from: 'name', to: 'full_name' } }] });
const m2 = () =>
  migration({
    name: 'm2',
    operations: [
      { add_column: { table: 'users', column: { name: 'handle', type: 'text' }, up: 'lower(full_name)' } },
      { drop_column: { table: 'users', column: 'email', down: `lower(full_name) || '@x.io'` } },
    ],
  });

/** m1 started and completed: the m1 application runs on public_m1 views. */
async function afterM1(env: Env): Promise<void> {
  await run(env, m1());
  await runComplete(env);
  assert.deepEqual(await schemaNames(env.old), ['public_m1']);
}

describe('a chain of two migrations', () => {
  test('m2 runs with the m1 views as the old version; its complete drops public_m1', async () => {
    await withDatabase(SETUP, async (env) => {
      await afterM1(env);
      const v1 = await newVersion(env.db, 'public_m1');
      await run(env, m2());
      assert.deepEqual(await schemaNames(env.old), ['public_m1', 'public_m2']);
      const s = await status(env.engine, 'public');
      assert.equal(s.inProgress?.previousVersionSchema, 'public_m1');
      assert.equal(s.inProgress?.versionSchema, 'public_m2');
      const v2 = await newVersion(env.db, 'public_m2');
      assert.deepEqual(
        (await columns(env.old, 'public_m1', 'users')).map((c) => c.name),
        ['id', 'full_name', 'email'],
      );
      assert.deepEqual(
        (await columns(env.old, 'public_m2', 'users')).map((c) => c.name),
        ['id', 'full_name', 'handle'],
      );
      assert.equal((await v2.query(`SELECT count(*)::int AS n FROM users WHERE handle = lower(full_name)`)).rows[0].n, ROWS);

      // m1 (old) writes through its views; m2 sees `up`.
      const o = await v1.query(`INSERT INTO users (id, full_name, email) VALUES (1001, 'Alice A', 'alice@x.io') RETURNING *`);
      assert.deepEqual(o.rows, [{ id: 1001, full_name: 'Alice A', email: 'alice@x.io' }]);
      const ou = await v1.query(
        `INSERT INTO users (id, full_name, email) VALUES (1, 'Bob B', 'bob@x.io') ON CONFLICT (id) DO UPDATE SET full_name = EXCLUDED.full_name RETURNING id, full_name, email`,
      );
      assert.deepEqual(ou.rows, [{ id: 1, full_name: 'Bob B', email: 'user1@x.io' }]);
      assert.deepEqual((await v2.query(`SELECT id, full_name, handle FROM users WHERE id IN (1, 1001) ORDER BY id`)).rows, [
        { id: 1, full_name: 'Bob B', handle: 'bob b' },
        { id: 1001, full_name: 'Alice A', handle: 'alice a' },
      ]);

      // m2 (new) writes; m1 sees `down` for the column m2 dropped.
      const n = await v2.query(
        `INSERT INTO users (id, full_name, handle) VALUES (2, 'Cy C', 'cy') ON CONFLICT (id) DO UPDATE SET full_name = EXCLUDED.full_name, handle = EXCLUDED.handle RETURNING *`,
      );
      assert.deepEqual(n.rows, [{ id: 2, full_name: 'Cy C', handle: 'cy' }]);
      await v2.query(`INSERT INTO users (id, full_name, handle) VALUES (1002, 'Di D', 'di')`);
      assert.deepEqual((await v1.query(`SELECT id, full_name, email FROM users WHERE id IN (2, 1002) ORDER BY id`)).rows, [
        { id: 2, full_name: 'Cy C', email: 'cy c@x.io' },
        { id: 1002, full_name: 'Di D', email: 'di d@x.io' },
      ]);

      await runComplete(env);
      assert.deepEqual(await schemaNames(env.old), ['public_m2']);
      assert.deepEqual(await columns(env.old, 'public', 'users'), [
        { name: 'id', type: 'integer', notNull: true },
        { name: 'full_name', type: 'text', notNull: true },
        { name: 'handle', type: 'text', notNull: true },
      ]);
      await assertNoTandemLeftovers(env.old, 'users');
      assert.deepEqual((await v2.query(`SELECT id, full_name, handle FROM users WHERE id IN (1, 2, 1001, 1002) ORDER BY id`)).rows, [
        { id: 1, full_name: 'Bob B', handle: 'bob b' },
        { id: 2, full_name: 'Cy C', handle: 'cy' },
        { id: 1001, full_name: 'Alice A', handle: 'alice a' },
        { id: 1002, full_name: 'Di D', handle: 'di' },
      ]);
      assert.deepEqual(await migrationRows(env.old), [
        { name: 'm1', phase: 'completed' },
        { name: 'm2', phase: 'completed' },
      ]);
    });
  });

  test('rolling back m2 keeps public_m1 exactly as it was', async () => {
    await withDatabase(SETUP, async (env) => {
      await afterM1(env);
      const before = { public: await snapshot(env), m1: await snapshot(env, 'public_m1') };
      await run(env, m2());
      const v2 = await newVersion(env.db, 'public_m2');
      await v2.query(`INSERT INTO users (id, full_name, handle) VALUES (1002, 'Di D', 'di')`);
      await runRollback(env);
      assert.deepEqual({ public: await snapshot(env), m1: await snapshot(env, 'public_m1') }, before);
      assert.deepEqual(await schemaNames(env.old), ['public_m1']);
      const v1 = await newVersion(env.db, 'public_m1');
      assert.deepEqual((await v1.query(`SELECT id, full_name, email FROM users WHERE id = 1002`)).rows, [{ id: 1002, full_name: 'Di D', email: 'di d@x.io' }]);
      // A later migration chains from m1 again and drops public_m1 when it completes.
      await run(env, migration({ name: 'm3', operations: [{ rename_column: { table: 'users', from: 'email', to: 'mail' } }] }));
      await runComplete(env);
      assert.deepEqual(await schemaNames(env.old), ['public_m3']);
    });
  });
});
