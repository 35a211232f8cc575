import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columns, migration, newVersion, run, runComplete, runRollback, snapshot, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE p (id serial PRIMARY KEY, a text, b text, s text);
  INSERT INTO p (a, b, s) SELECT 'a' || g, 'b' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE g::text END FROM generate_series(1, 120) g;`;

/** Renames that swap two columns, a rename then two changes of the same column, an added column renamed. */
const m = () =>
  migration({
    name: 'chain',
    operations: [
      { rename_column: { table: 'p', from: 'a', to: 'tmp' } },
      { rename_column: { table: 'p', from: 'b', to: 'a' } },
      { rename_column: { table: 'p', from: 'tmp', to: 'b' } },
      { rename_column: { table: 'p', from: 's', to: 'score' } },
      { alter_column: { table: 'p', column: 'score', type: 'integer', up: 'CAST(score AS integer)', down: 'CAST(score AS text)' } },
      { alter_column: { table: 'p', column: 'score', nullable: false, up: 'coalesce(score, 0) * 10', down: 'score / 10' } },
      { add_column: { table: 'p', column: { name: 'extra', type: 'text', nullable: true }, up: "'x' || score" } },
      { rename_column: { table: 'p', from: 'extra', to: 'extra2' } },
    ],
  });

test('operations in sequence on the same columns compose: each sees the table as the previous one left it', async () => {
  await withDatabase(SETUP, async (env) => {
    const before = await snapshot(env);
    await run(env, m());
    // Existing rows: up of every stage applied in order.
    const seen = await env.engine.query(`SELECT id, a, b, score, extra2 FROM public_chain.p WHERE id IN (1, 3) ORDER BY id`);
    assert.deepEqual(seen.rows, [
      { id: 1, a: 'b1', b: 'a1', score: 10, extra2: 'x10' },
      { id: 3, a: 'b3', b: 'a3', score: 0, extra2: 'x0' },
    ]);
    // The old version writes: the new version sees it through the whole chain of ups.
    const o = await env.old.query<{ id: number }>(`INSERT INTO p (a, b, s) VALUES ('A', 'B', '7') RETURNING id`);
    const viaNew = await env.engine.query(`SELECT a, b, score, extra2 FROM public_chain.p WHERE id = $1`, [o.rows[0]!.id]);
    assert.deepEqual(viaNew.rows[0], { a: 'B', b: 'A', score: 70, extra2: 'x70' });
    // The new version writes: the old version sees it through the chain of downs, in reverse.
    const nv = await newVersion(env.db, 'public_chain');
    const n = await nv.query<{ id: number }>(`INSERT INTO p (a, b, score, extra2) VALUES ('na', 'nb', 50, 'e') RETURNING id`);
    const viaOld = await env.old.query(`SELECT a, b, s FROM p WHERE id = $1`, [n.rows[0]!.id]);
    assert.deepEqual(viaOld.rows[0], { a: 'nb', b: 'na', s: '5' });

    await runRollback(env);
    assert.deepEqual(await snapshot(env), before);

    await run(env, m());
    await runComplete(env);
    assert.deepEqual(
      (await columns(env.engine, 'public', 'p')).map((c) => [c.name, c.type, c.notNull]),
      [
        ['id', 'integer', true],
        ['b', 'text', false],
        ['a', 'text', false],
        ['score', 'integer', true],
        ['extra2', 'text', false],
      ],
    );
    const row1 = await env.engine.query(`SELECT a, b, score, extra2 FROM p WHERE id = 1`);
    assert.deepEqual(row1.rows[0], { a: 'b1', b: 'a1', score: 10, extra2: 'x10' });
  });
});
