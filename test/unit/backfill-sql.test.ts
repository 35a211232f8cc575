/**
 * The set-based backfill's statements (src/exec/backfill-sql.ts), without a database: one
 * statement per batch that locks, writes the locked versions by ctid, stores the skipped keys and
 * moves the checkpoint; values are inlined as quoted literals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchTransaction, ctidBatchSql, isSetBased, keyedSql, type SetBasedStep } from '../../src/exec/backfill-sql.js';
import { sliceCount } from '../../src/exec/backfill-slices.js';
import { BatchMode, LOCKING_AFTER_WAIT } from '../../src/exec/backfill-mode.js';

const step: SetBasedStep = {
  kind: 'backfill',
  id: 'backfill:items',
  description: 'backfill items',
  schema: 'public',
  table: 'items',
  keyColumns: ['a', 'b'],
  keyTypes: ['integer', 'text'],
  markerColumn: '_tandem_synced',
  estimatedRows: 10,
  up: { targets: ['_tandem_new_qty'], lateral: 'LATERAL (SELECT CAST(__tandem_row."qty" AS integer) AS "_tandem_new_qty") AS __tandem_up' },
};

test('a batch: keyset bounds as literals, lock SKIP LOCKED, UPDATE of the locked versions by ctid, skipped keys, checkpoint', () => {
  const sql = keyedSql(step).batch({ migrationId: '7', slice: 3, limit: 500, after: ['1', "o'k"], upTo: ['9', 'z'] });
  assert.match(sql, /^\s*WITH batch AS/);
  assert.match(sql, /ROW\(b\."a", b\."b"\) > ROW\('1'::integer, 'o''k'::text\)/);
  assert.match(sql, /ROW\(b\."a", b\."b"\) <= ROW\('9'::integer, 'z'::text\)/);
  assert.match(sql, /FOR UPDATE OF __tandem_row SKIP LOCKED/);
  assert.match(sql, /UPDATE "public"\."items" AS __tandem_row\s+SET \("_tandem_new_qty", "_tandem_synced"\) = \(SELECT __tandem_up\."_tandem_new_qty", true FROM LATERAL/);
  assert.match(sql, /__tandem_row\.ctid = ANY \(ARRAY\(SELECT __tandem_ctid FROM locked\)\)/);
  assert.match(sql, /INSERT INTO tandem\.backfill_skipped/);
  assert.match(sql, /UPDATE tandem\.backfill_checkpoints[\s\S]*slice = 3/);
  assert.match(sql, /LIMIT 500/);
});

test('the transaction: one round trip, the trigger steps aside, no hash joins', () => {
  const text = batchTransaction('SELECT 1', 50, '__tandem_backfill_direct');
  assert.equal(text.split(';\n')[0], 'BEGIN');
  assert.ok(text.endsWith('COMMIT'));
  assert.match(text, /SET LOCAL tandem\.version = '__tandem_backfill_direct'/);
  assert.match(text, /SET LOCAL lock_timeout = 50/);
  assert.match(text, /SET LOCAL enable_hashjoin = off/);
});

test('the key-less path walks page ranges; a plan without a composed up is not set-based', () => {
  const sql = ctidBatchSql(step, { migrationId: '7', fromPage: 10, toPage: 20, nextPage: 20 });
  assert.match(sql, /ctid >= '\(10,0\)'::tid AND __tandem_row\.ctid < '\(20,0\)'::tid/);
  assert.equal(isSetBased({ ...step, up: undefined }), false);
  assert.equal(isSetBased(step), true);
});

test('slices: one for a small table and one worker, a few per worker otherwise', () => {
  assert.equal(sliceCount(1, 1_000), 1);
  assert.equal(sliceCount(1, 10_000_000), 16);
  assert.equal(sliceCount(2, 1_000), 8);
  assert.equal(sliceCount(1_000, 1), 256);
});

test('a plain batch: one UPDATE of the range up to the limit-th key, no row lock first, the checkpoint in the same statement', () => {
  const sql = keyedSql(step).plainBatch({ migrationId: '7', slice: 3, limit: 500, after: ['1', "o'k"], upTo: null });
  assert.match(sql, /ORDER BY "a", "b" OFFSET 499 LIMIT 1/);
  assert.doesNotMatch(sql, /FOR UPDATE|backfill_skipped/);
  // The upper bound as scalar subqueries (an index condition), the table's last key when the slice has no end.
  assert.match(sql, /ROW\(__tandem_row\."a", __tandem_row\."b"\) <= ROW\(\(SELECT "a" FROM upper\), \(SELECT "b" FROM upper\)\)/);
  assert.match(sql, /ORDER BY l\."a" DESC, l\."b" DESC LIMIT 1/);
  assert.match(sql, /__tandem_row\."_tandem_synced" IS NOT TRUE/);
  assert.match(sql, /done = NOT EXISTS \(SELECT 1 FROM edge\)/);
  const bounded = keyedSql(step).plainBatch({ migrationId: '7', slice: 3, limit: 500, after: null, upTo: ['9', 'z'] });
  assert.match(bounded, /SELECT '9'::integer AS "a", 'z'::text AS "b"/);
});

test('batch mode: plain first; after a plain batch gave up on a wait, locking for the next batches, then plain again', () => {
  const mode = new BatchMode();
  assert.equal(mode.next(), 'plain');
  mode.waited();
  const after = Array.from({ length: LOCKING_AFTER_WAIT + 1 }, () => mode.next());
  assert.deepEqual(after, [...Array<string>(LOCKING_AFTER_WAIT).fill('locking'), 'plain']);
});
