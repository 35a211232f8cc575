/** The stored plan's format: what parseStoredPlan accepts, and how it says what it refuses. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { InvalidStoredPlanError } from '../../src/errors.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import type { PlanFacts } from '../../src/plan/facts.js';
import { PLAN_FORMAT_VERSION, parseStoredPlan } from '../../src/plan/plan-schema.js';
import { planMigration } from '../../src/plan/planner.js';
import type { Plan } from '../../src/plan/types.js';
import { loadScanner } from '../../src/sql/rename-refs.js';

const root = path.resolve(import.meta.dirname, '../..');
const row = { id: '42', name: '06_alter_users_products', schema_name: 'public' };
let plan: Plan;

before(async () => {
  await loadScanner();
  const facts = JSON.parse(readFileSync(path.join(root, 'test/fixtures/golden/06_alter_users_products.facts.json'), 'utf8')) as PlanFacts;
  plan = planMigration(facts, await loadMigrationFile(path.join(root, 'examples/06_alter_users_products.yaml'))).plan;
});

test('a plan carries its format version and reads back, as JSON text or as parsed JSON, unchanged', () => {
  assert.equal(plan.formatVersion, PLAN_FORMAT_VERSION);
  const stored = JSON.parse(JSON.stringify(plan)) as unknown;
  assert.deepEqual(parseStoredPlan(stored, row), plan);
  assert.deepEqual(parseStoredPlan(JSON.stringify(plan), row), plan);
});

test('a plan stored before the format was versioned reads as version 1', () => {
  const { formatVersion: _v, ...unversioned } = JSON.parse(JSON.stringify(plan)) as Plan;
  assert.equal(parseStoredPlan(unversioned, row).formatVersion, 1);
});

function refusal(json: unknown): InvalidStoredPlanError {
  try {
    parseStoredPlan(json, row);
  } catch (err) {
    assert.ok(err instanceof InvalidStoredPlanError, String(err));
    return err;
  }
  assert.fail('the plan was accepted');
}

test('another format version, a missing field, an unknown step kind or a stray field are refused, naming the row and the field', () => {
  const copy = () => JSON.parse(JSON.stringify(plan)) as Record<string, unknown> & { start: Record<string, unknown>[] };
  const future = refusal({ ...copy(), formatVersion: 2 });
  assert.equal(future.code, 'invalid-stored-plan');
  assert.equal(future.exitCode, 1);
  assert.deepEqual([future.migrationId, future.migration, future.schema], ['42', '06_alter_users_products', 'public']);
  assert.match(future.message, /migration "06_alter_users_products" on schema "public" \(tandem\.migrations id 42\)/);
  assert.match(future.message, /formatVersion/);
  assert.match(future.message, /hint: /);

  const { rollback: _r, ...noRollback } = copy();
  assert.match(refusal(noRollback).problems.join('\n'), /^rollback: /m);
  const unknownKind = copy();
  unknownKind.start[0]!['kind'] = 'teleport';
  assert.match(refusal(unknownKind).problems.join('\n'), /^start\.0\.kind: /m);
  const stray = copy();
  stray.start[0]!['sqll'] = 'typo';
  assert.match(refusal(stray).problems.join('\n'), /start\.0.*sqll/);
  assert.match(refusal('{"start": [').problems[0]!, /^not JSON/);
});
