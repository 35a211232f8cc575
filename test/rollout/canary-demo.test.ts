// @tier slow
/**
 * `tandem demo --canary` end to end through the real CLI (on the test server, small): run 1 passes
 * every step and completes, run 2's gate fails at the first step, every key returns to the old
 * version and the migration is rolled back; no acknowledged write is missing or wrong.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanaryDemoSummary } from '../../src/demo/canary-demo.js';
import { runCli } from '../helpers/cli.js';
import { adminUrl } from '../helpers/db.js';

test('demo --canary: 1% → 100% and complete, then a failing gate, back to the old version, rolled back', async () => {
  const r = await runCli(['--database-url', adminUrl(), '--json', 'demo', '--canary', '--rows', '20000', '--clients', '3']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as CanaryDemoSummary;
  assert.deepEqual(s.errors, []);
  assert.equal(s.healthy.outcome, 'passed');
  assert.deepEqual(
    s.healthy.steps.map((x) => x.percent),
    [1, 5, 25, 50, 100],
  );
  assert.ok(s.healthy.steps.every((x) => x.newErrorRate === 0 && x.oldErrorRate === 0));
  assert.equal(s.failing.outcome, 'gate-failed');
  assert.equal(s.failing.failure?.gate, 'error-rate<0.01');
  assert.equal(s.failing.failure?.rolledBack, true);
  assert.ok(s.failing.app.new.failed > 0, 'the new version of run 2 really failed writes');
  assert.equal(s.healthy.lostWrites + s.failing.lostWrites, 0);
  assert.match(r.stderr, /1% on the new version: new [\d,]+ statements, 0\.00% errors/);
  assert.match(r.stderr, /gate error-rate<0\.01 FAILED at \d+%/);
});
