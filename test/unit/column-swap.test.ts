/** The column swap at complete, composed from the operations' parts (no database). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composeColumnSwap, swapDrop, swapRename } from '../../src/operations/column-swap.js';

const sqlOf = (present: string[], parts: ReturnType<typeof swapDrop>[]) => composeColumnSwap('public', 'users', present, parts).map((a) => a.sql);

test('drops first, then renames; a part asked twice runs once', () => {
  // drop_column legacy; alter_column score (shadow) renamed by rename_column too; rename name → full_name
  const parts = [
    swapDrop('public', 'users', 'legacy'),
    swapDrop('public', 'users', 'score'),
    ...swapRename('public', 'users', '_tandem_new_score', 'points'),
    ...swapRename('public', 'users', '_tandem_new_score', 'points'),
    ...swapRename('public', 'users', 'name', 'full_name'),
  ];
  assert.deepEqual(sqlOf(['id', 'name', 'score', 'legacy', '_tandem_new_score'], parts), [
    'ALTER TABLE "public"."users" DROP COLUMN "score"',
    'ALTER TABLE "public"."users" DROP COLUMN "legacy"',
    'ALTER TABLE "public"."users" RENAME COLUMN "_tandem_new_score" TO "points"',
    'ALTER TABLE "public"."users" RENAME COLUMN "name" TO "full_name"',
  ]);
});

test('a rename may take the name of a dropped column; swapped names go through temporary ones', () => {
  assert.deepEqual(sqlOf(['a', 'b'], [swapDrop('public', 'users', 'a'), ...swapRename('public', 'users', 'b', 'a')]), [
    'ALTER TABLE "public"."users" DROP COLUMN "a"',
    'ALTER TABLE "public"."users" RENAME COLUMN "b" TO "a"',
  ]);
  assert.deepEqual(sqlOf(['a', 'b'], [...swapRename('public', 'users', 'a', 'b'), ...swapRename('public', 'users', 'b', 'a')]), [
    'ALTER TABLE "public"."users" RENAME COLUMN "a" TO "_tandem_swap_0"',
    'ALTER TABLE "public"."users" RENAME COLUMN "b" TO "_tandem_swap_1"',
    'ALTER TABLE "public"."users" RENAME COLUMN "_tandem_swap_0" TO "b"',
    'ALTER TABLE "public"."users" RENAME COLUMN "_tandem_swap_1" TO "a"',
  ]);
  assert.deepEqual(swapRename('public', 'users', 'x', 'x'), []);
});

test('two different targets for one column are a planner bug, not a plan', () => {
  assert.throws(() => sqlOf(['a'], [...swapRename('public', 'users', 'a', 'b'), ...swapRename('public', 'users', 'a', 'c')]), /renamed both to "b" and to "c"/);
});
