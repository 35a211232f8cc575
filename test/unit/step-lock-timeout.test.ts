import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepLockTimeout } from '../../src/exec/executor.js';
import { defaultExecOptions } from '../../src/exec/options.js';
import type { Action, SqlStep } from '../../src/plan/types.js';

const action = (table: string, lock: Action['lock']): Action => ({ sql: `ALTER TABLE ${table} …`, lock, table, transactional: true, description: table });
const step = (actions: Action[]): SqlStep => ({ kind: 'sql', id: 'contract', description: 'contract', transactional: true, actions });
const options = { ...defaultExecOptions, lockTimeoutMs: 60, lockRetryForMs: 10_000 };

test('one blocking table: the whole --lock-timeout for its wait', () => {
  assert.equal(stepLockTimeout(step([action('a', 'ACCESS EXCLUSIVE'), action('a', 'ACCESS EXCLUSIVE')]), options), 60);
});

test('several blocking relations in one transaction: each wait gets its share, so a query waits about --lock-timeout in all', () => {
  const three = step([action('a', 'ACCESS EXCLUSIVE'), action('b', 'ACCESS EXCLUSIVE'), action('v', 'ACCESS EXCLUSIVE'), action('a', 'ACCESS EXCLUSIVE')]);
  assert.equal(stepLockTimeout(three, options), 20);
});

test('locks that block no traffic (VALIDATE, CREATE VIEW) may wait up to --lock-retry-for', () => {
  assert.equal(stepLockTimeout(step([action('a', 'SHARE UPDATE EXCLUSIVE'), action('b', 'ACCESS SHARE')]), options), 10_000);
});
