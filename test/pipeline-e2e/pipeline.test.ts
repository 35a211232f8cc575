// @tier slow
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTestDatabase } from '../helpers/db.js';
import { runPipelineDemo } from './pipeline-demo.js';

/**
 * The pipeline of docs/ci-cd.md end to end (test/pipeline-e2e/pipeline-demo.ts): a good release
 * (lint, plan, migrate, new app on `tandem latest`, health check, complete) and a bad one (its
 * health check fails: rollback), with real app processes writing throughout.
 */
describe('the CI/CD pipeline against a real database and real app processes', () => {
  it('deploys, then rolls back a bad release, losing no acknowledged write of any version', async () => {
    const db = await createTestDatabase();
    try {
      const r = await runPipelineDemo(db.url);
      process.stdout.write(`# pipeline: ${r.totalMs} ms; writes v1 ${r.writes.v1}, v2 ${r.writes.v2}, v3 ${r.writes.v3}; ${r.verify.rows} rows verified\n`);
      assert.deepEqual(r.latest, {
        before: 'public_0001_orders',
        afterGoodDeploy: 'public_0002_note',
        badRelease: 'public_0003_priority',
        afterRollback: 'public_0002_note',
      });
      assert.deepEqual(r.health, { good: 200, bad: 503 });
      for (const [version, n] of Object.entries(r.writes)) assert.ok(n > 0, `${version} wrote`);
      assert.equal(r.verify.missing, 0, r.verify.samples.join('\n'));
      assert.equal(r.verify.wrong, 0, r.verify.samples.join('\n'));
      assert.equal(r.verify.unexpected, 0, r.verify.samples.join('\n'));
      assert.equal(r.verify.rows, r.writes.v1 + r.writes.v2 + r.writes.v3);
      assert.deepEqual(r.finalColumns, ['id', 'item', 'note', 'qty'], 'the bad release left nothing behind');
      // Designed for ≤ 60 s on a quiet machine; the bound leaves room for a loaded CI runner.
      assert.ok(r.totalMs < 90_000, `the pipeline took ${r.totalMs} ms`);
    } finally {
      await db.drop();
    }
  });
});
