/**
 * The set-based backfill's statements (src/exec/backfill-sql.ts), without a database: one
 * statement per batch that locks, writes the locked versions by ctid, stores the skipped keys and
 * moves the checkpoint; values are inlined as quoted literals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchTransaction, ctidBatchSql, isSetBased, keyedSql, type SetBasedStep } from '../../src/exec/backfill-sql.js';
import { sliceCount } from '../../src/exec/backfill-slices.js';

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
