/**
 * A column changed through a shadow, then dropped, in one migration: complete drops both the old
 * column and the shadow, and leaves none of the shadow's checks, constraints or index copies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertNoTandemLeftovers, columns, migration, newVersion, run, runComplete, runRollback, snapshot, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, score text, name text);
  CREATE INDEX users_score_idx ON users (score);
  INSERT INTO users SELECT g, g::text, 'u' || g FROM generate_series(1, 30) g;
`;

const m1 = () =>
  migration({
    name: 'm1',
    operations: [
      { alter_column: { table: 'users', column: 'score', type: 'integer', nullable: false, up: 'coalesce(CAST(score AS integer), 0)', down: 'CAST(score AS text)' } },
      { drop_column: { table: 'users', column: 'score', down: "'0'" } },
    ],
  });

test('alter_column then drop_column of the same column: start, rollback, start, complete', async () => {
  await withDatabase(SETUP, async (env) => {
    const before = await snapshot(env);
    await run(env, m1());
    assert.deepEqual(
      (await columns(env.old, 'public_m1', 'users')).map((c) => c.name),
      ['id', 'name'],
    );
    await runRollback(env);
    assert.deepEqual(await snapshot(env), before);

    await run(env, m1());
    const neu = await newVersion(env.db, 'public_m1');
    await neu.query(`INSERT INTO users (id, name) VALUES (100, 'new')`);
    assert.deepEqual((await env.old.query(`SELECT score FROM users WHERE id = 100`)).rows, [{ score: '0' }]);
    await runComplete(env);
    assert.deepEqual(
      (await columns(env.old, 'public', 'users')).map((c) => c.name),
      ['id', 'name'],
    );
    assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'users' AND indexname <> 'users_pkey'`)).rows[0].n, 0);
    await assertNoTandemLeftovers(env.old, 'users');
  });
});
