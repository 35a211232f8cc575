/**
 * The shared pieces, without a database: the percentile, the lock-mode table, the lock-retry
 * helper and the reading of pgroll's other spellings.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { retryOnLockConflict } from '../../src/exec/lock-retry.js';
import { parseMigration } from '../../src/migration/load.js';
import { blocksTraffic, conflicts, LOCK_MODE_INFO, TABLE_LOCK_MODES } from '../../src/sql/lock-modes.js';
import { LOCK_NAMES, LockMode, lockBlocks } from '../../src/lint/types.js';
import { modeName, strength } from '../../src/trace/locks.js';
import { maxOf, percentile, percentiles } from '../../src/util/percentile.js';

describe('percentile (nearest rank)', () => {
  test('p50, p99 and p100 of 1..100; unsorted input is not modified', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 99), 99);
    assert.equal(percentile(xs, 100), 100);
    assert.equal(percentile(xs, 0), 1);
    assert.equal(xs[0], 100);
    assert.deepEqual(percentiles(xs, [50, 90]), [50, 90]);
  });
  test('empty input is 0; one sample is every percentile; numeric, not string, order', () => {
    assert.equal(percentile([], 99), 0);
    assert.equal(percentile([7], 1), 7);
    assert.equal(percentile([10, 9, 100], 50), 10);
    assert.equal(maxOf([3, 11, 2]), 11);
    assert.throws(() => percentile([1], 101), RangeError);
  });
});

describe('lock modes', () => {
  test('the conflict matrix is symmetric, and ACCESS EXCLUSIVE conflicts with everything', () => {
    for (const a of TABLE_LOCK_MODES) for (const b of TABLE_LOCK_MODES) assert.equal(conflicts(a, b), conflicts(b, a), `${a} / ${b}`);
    for (const m of TABLE_LOCK_MODES) assert.ok(conflicts('ACCESS EXCLUSIVE', m));
    assert.ok(!conflicts('ROW EXCLUSIVE', 'ROW EXCLUSIVE'));
    assert.ok(conflicts('SHARE UPDATE EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE'));
  });
  test('what blocks traffic: SHARE and stronger (writes), ACCESS EXCLUSIVE (reads too)', () => {
    assert.deepEqual(
      TABLE_LOCK_MODES.filter((m) => blocksTraffic(m)),
      ['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
    );
    assert.deepEqual(
      TABLE_LOCK_MODES.filter((m) => LOCK_MODE_INFO[m].blocksReads),
      ['ACCESS EXCLUSIVE'],
    );
    assert.equal(blocksTraffic('none'), false);
    assert.equal(blocksTraffic('AccessExclusiveLock'), true);
  });
  test('lint and trace read the same table', () => {
    assert.equal(LOCK_NAMES[LockMode.ShareRowExclusive], 'SHARE ROW EXCLUSIVE');
    assert.equal(lockBlocks(LockMode.AccessExclusive), 'every query on the table, reads included');
    assert.equal(lockBlocks(LockMode.ShareUpdateExclusive), 'other schema changes and VACUUM (reads and writes continue)');
    assert.equal(modeName('ShareLock'), 'SHARE');
    assert.ok(strength('AccessExclusiveLock') > strength('RowExclusiveLock'));
    assert.equal(strength('advisory'), -1);
  });
});

describe('retryOnLockConflict', () => {
  const lockError = () => Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
  test('retries lock timeouts until the attempt succeeds', async () => {
    let calls = 0;
    const seen: number[] = [];
    const r = await retryOnLockConflict(
      async () => {
        if (++calls < 3) throw lockError();
        return 'done';
      },
      { onRetry: ({ attempt }) => void seen.push(attempt) },
    );
    assert.equal(r, 'done');
    assert.deepEqual(seen, [1, 2]);
  });
  test('gives up after its budget with the error giveUp makes; other errors pass through at once', async () => {
    class GaveUp extends Error {}
    await assert.rejects(
      retryOnLockConflict(async () => Promise.reject(lockError()), { maxAttempts: 2, giveUp: ({ attempt }) => new GaveUp(`after ${attempt}`) }),
      (e: unknown) => e instanceof GaveUp && e.message === 'after 2',
    );
    let calls = 0;
    await assert.rejects(
      retryOnLockConflict(async () => {
        calls++;
        throw Object.assign(new Error('boom'), { code: '22012' });
      }),
      { code: '22012' },
    );
    assert.equal(calls, 1);
  });
});

describe("pgroll's other spellings", () => {
  test('create_index columns as a map or as names become the list form; empty strings are absent fields', () => {
    const m = parseMigration(
      {
        operations: [
          { create_index: { table: 't', name: 'a', columns: { b: { sort: 'DESC' }, a: {} }, predicate: '' } },
          { create_index: { table: 't', name: 'b', columns: ['x', 'y'] } },
          { alter_column: { table: 't', column: 'c', comment: 'x', up: '', down: '' } },
          { create_constraint: { table: 't', name: 'k', type: 'unique', columns: ['a'], up: { a: '' }, down: { a: 'a' } } },
          { create_constraint: { table: 't', name: 'fk', type: 'foreign_key', columns: ['a'], references: { name: 'fk', table: 'p', columns: ['id'] }, up: {}, down: {} } },
        ],
      },
      undefined,
      'forms',
    );
    const [a, b, c, d, e] = m.operations.map((o) => o.body as Record<string, unknown>);
    assert.deepEqual(a!['columns'], [{ column: 'b', sort: 'DESC' }, { column: 'a' }]);
    assert.equal('predicate' in a!, false);
    assert.deepEqual(b!['columns'], [{ column: 'x' }, { column: 'y' }]);
    assert.equal('up' in c! || 'down' in c!, false);
    assert.deepEqual([d!['up'], d!['down']], [{}, { a: 'a' }]);
    assert.deepEqual(e!['references'], { table: 'p', columns: ['id'] });
  });
});
