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

/** The lines that differ, with two lines of context, in unified-diff style (expected: -, actual: +). */
function lineDiff(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  // Longest common subsequence table, from the end.
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: { tag: ' ' | '-' | '+'; line: string; at: number }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ tag: ' ', line: a[i++]!, at: j++ });
    else if (i < a.length && (j >= b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ tag: '-', line: a[i++]!, at: j });
    else ops.push({ tag: '+', line: b[j]!, at: j++ });
  }
  const near = (k: number) => ops.slice(Math.max(0, k - 2), k + 3).some((o) => o.tag !== ' ');
  const out: string[] = [];
  let skipped = false;
  ops.forEach((o, k) => {
    if (o.tag !== ' ' || near(k)) {
      if (skipped) out.push(`@@ line ${o.at + 1} @@`);
      skipped = false;
      out.push(`${o.tag} ${o.line}`);
    } else skipped = true;
  });
  return out.join('\n');
}

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
      if (actual !== expected) {
        assert.fail(`the plan of ${file} differs from examples/${base}.plan.txt (- file, + planned now):\n${lineDiff(expected, actual)}\n\nIf the change is intended, ${UPDATE}.`);
      }
    });
  }
});
