// @tier fast
/**
 * The order of complete (src/plan/complete-order.ts), without a database: checks first, then one
 * transaction as the point of no return, then the non-transactional cleanup.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { orderCompleteSteps, removesNothing } from '../../src/plan/complete-order.js';
import type { Action, BackfillStep, SqlStep, Step } from '../../src/plan/types.js';

const action = (sql: string, extra: Partial<Action> = {}): Action => ({ sql, lock: 'ACCESS EXCLUSIVE', transactional: true, description: sql, ...extra });
const step = (id: string, actions: Action[]): SqlStep => ({ kind: 'sql', id, description: id, transactional: actions.every((a) => a.transactional), actions });
const backfill = (table: string): BackfillStep => ({
  kind: 'backfill',
  id: `backfill:${table}`,
  description: `backfill ${table}`,
  schema: 'public',
  table,
  keyColumns: ['id'],
  keyTypes: ['integer'],
  markerColumn: '_tandem_synced',
  estimatedRows: 10,
});

/** Complete as the planner builds it: the previous version schema first, then per table validate, contract, cleanup. */
const planned: { start: Step[]; complete: Step[] } = {
  start: [step('expand:users', [action('ALTER TABLE users ADD …')]), backfill('users'), step('expand:orders', [action('ALTER TABLE orders …')]), backfill('orders')],
  complete: [
    step('drop-previous-version', [action('DROP VIEW IF EXISTS p.users'), action('DROP SCHEMA IF EXISTS p')]),
    step('validate:users', [action('ALTER TABLE users VALIDATE CONSTRAINT c1', { lock: 'SHARE UPDATE EXCLUSIVE', scans: true })]),
    step('contract:users', [action('DROP TRIGGER t ON users'), action('ALTER TABLE users DROP COLUMN old')]),
    step('cleanup:users:0', [action('DROP INDEX CONCURRENTLY users_old_idx', { transactional: false })]),
    step('validate:orders', [action('ALTER TABLE orders VALIDATE CONSTRAINT c2', { lock: 'SHARE UPDATE EXCLUSIVE', scans: true })]),
    step('contract:orders', [action('ALTER TABLE orders DROP COLUMN old')]),
  ],
};

describe('orderCompleteSteps', () => {
  test('checks first (backfill verification, then VALIDATE), then one contract transaction, then cleanup', () => {
    const ordered = orderCompleteSteps(planned);
    assert.deepEqual(
      ordered.map((s) => s.id),
      ['verify-backfill:users', 'verify-backfill:orders', 'validate:users', 'validate:orders', 'contract', 'cleanup:users:0'],
    );
  });

  test('the point of no return is one transaction holding the previous version schema drop and every contract action, in order', () => {
    const contract = orderCompleteSteps(planned).find((s) => s.id === 'contract') as SqlStep;
    assert.equal(contract.kind, 'sql');
    assert.equal(contract.transactional, true);
    assert.deepEqual(
      contract.actions.map((a) => a.sql),
      ['DROP VIEW IF EXISTS p.users', 'DROP SCHEMA IF EXISTS p', 'DROP TRIGGER t ON users', 'ALTER TABLE users DROP COLUMN old', 'ALTER TABLE orders DROP COLUMN old'],
    );
  });

  test('only the contract transaction and what follows it are irreversible', () => {
    const flags = orderCompleteSteps(planned).map((s) => [s.id, s.irreversible === true]);
    assert.deepEqual(flags, [
      ['verify-backfill:users', false],
      ['verify-backfill:orders', false],
      ['validate:users', false],
      ['validate:orders', false],
      ['contract', true],
      ['cleanup:users:0', true],
    ]);
  });

  test('verification steps check the backfilled tables by their key and marker, changing nothing', () => {
    const verify = orderCompleteSteps(planned)[0] as BackfillStep;
    assert.equal(verify.kind, 'backfill');
    assert.equal(verify.verifyOnly, true);
    assert.deepEqual([verify.table, verify.markerColumn, verify.keyColumns], ['users', '_tandem_synced', ['id']]);
  });

  test('idempotent: ordering an ordered plan again gives the same steps', () => {
    const once = orderCompleteSteps(planned);
    assert.deepEqual(orderCompleteSteps({ start: planned.start, complete: once }), once);
  });

  test('a migration with nothing to contract or backfill: no empty contract step', () => {
    const cleanupOnly = { start: [step('build:users:0', [action('CREATE INDEX CONCURRENTLY i ON users (x)', { transactional: false })])], complete: [] };
    assert.deepEqual(orderCompleteSteps(cleanupOnly), []);
    const dropIndex = { start: [], complete: [step('cleanup:users:0', [action('DROP INDEX CONCURRENTLY i', { transactional: false })])] };
    assert.deepEqual(
      orderCompleteSteps(dropIndex).map((s) => [s.id, s.irreversible]),
      [['cleanup:users:0', true]],
    );
  });

  test('removesNothing tells checks from removals, in ordered plans and in plans stored before the order', () => {
    assert.deepEqual(orderCompleteSteps(planned).map(removesNothing), [true, true, true, true, false, false]);
    assert.deepEqual(planned.complete.map(removesNothing), [false, true, false, false, true, false]);
  });
});
