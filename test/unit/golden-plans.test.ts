/**
 * Golden plans: each example's plan, made from its facts fixture without a database, must be
 * exactly examples/<example>.plan.txt. A change to the planner shows up as a diff of those files
 * in review. `npm run golden:update` regenerates facts and plans (on a real database).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { renderPlan } from '../../src/cli/render-plan.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import type { PlanFacts } from '../../src/plan/facts.js';
import { planMigration } from '../../src/plan/planner.js';
import { loadScanner } from '../../src/sql/rename-refs.js';

const root = path.resolve(import.meta.dirname, '../..');
const examplesDir = path.join(root, 'examples');
const fixturesDir = path.join(root, 'test/fixtures/golden');
const UPDATE = 'run `npm run golden:update` and review the diff of examples/*.plan.txt before committing it';

const examples = readdirSync(examplesDir)
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort();

describe('golden plans (examples/*.plan.txt)', () => {
  before(async () => {
    await loadScanner();
  });

  test('there is one per example', () => {
    const plans = readdirSync(examplesDir)
      .filter((f) => f.endsWith('.plan.txt'))
      .sort();
    assert.deepEqual(
      plans,
      examples.map((f) => f.replace(/\.(ya?ml|json)$/, '.plan.txt')),
      UPDATE,
    );
  });

  for (const file of examples) {
    const base = file.replace(/\.(ya?ml|json)$/, '');
    test(base, async () => {
      const factsFile = path.join(fixturesDir, `${base}.facts.json`);
      const planFile = path.join(examplesDir, `${base}.plan.txt`);
      assert.ok(existsSync(factsFile) && existsSync(planFile), `no golden plan for ${file}: ${UPDATE}`);
      const facts = JSON.parse(readFileSync(factsFile, 'utf8')) as PlanFacts;
      const migration = await loadMigrationFile(path.join(examplesDir, file));
      const actual = `${renderPlan(planMigration(facts, migration).plan)}\n`;
      const expected = readFileSync(planFile, 'utf8');
      // node:assert prints the line diff (+ planned now, - the file).
      assert.equal(actual, expected, `the plan of ${file} differs from examples/${base}.plan.txt. If the change is intended, ${UPDATE}.`);
    });
  }
});
