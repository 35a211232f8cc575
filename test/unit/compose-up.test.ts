/**
 * The `up` direction composed as SQL (src/plan/compose-up.ts), exactly (no database): the same
 * walk as the sync trigger's, each stage a one-row subquery binding the names it sees.
 * test/backfill/set-based-equivalence.test.ts checks on a real database that it computes what the
 * trigger computes.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Stage, StageColumn } from '../../src/operations/context.js';
import { castTypeOf, composeUp, UP_ALIAS, UP_ROW_ALIAS } from '../../src/plan/compose-up.js';
import { loadScanner } from '../../src/sql/rename-refs.js';

before(async () => {
  await loadScanner();
});

const col = (id: number, name: string, physical: string, type: string): StageColumn => ({ id, name, physical, type });

test('the aliases are the contract', () => {
  assert.equal(UP_ROW_ALIAS, '__tandem_row');
  assert.equal(UP_ALIAS, '__tandem_up');
});

test('one computed column: the stage binds the names it sees to the row', () => {
  const original = [col(1, 'id', 'id', 'integer'), col(2, 'name', 'name', 'text')];
  const after = [...original, col(3, 'name_lower', 'name_lower', 'text')];
  const up = composeUp(original, [{ columns: after, up: [{ id: 3, expression: 'lower(name)' }], down: [] }]);
  assert.deepEqual(up, {
    targets: ['name_lower'],
    lateral:
      'LATERAL (SELECT __tandem_prev."__tandem_v0_2" AS "name_lower" FROM (SELECT __tandem_stage."__tandem_v0_2" FROM LATERAL ' +
      '(SELECT CAST((lower(name)) AS text) AS "__tandem_v0_2" FROM (SELECT __tandem_row."id" AS "id", __tandem_row."name" AS "name") AS __tandem_bind) AS __tandem_stage) AS __tandem_prev) AS __tandem_up',
  });
});

test('rename then alter: the second stage sees the new name, bound to the old physical column', () => {
  const original = [col(1, 'id', 'id', 'integer'), col(2, 'name', 'name', 'text')];
  const renamed = [col(1, 'id', 'id', 'integer'), col(2, 'title', 'name', 'text')];
  const altered = [col(1, 'id', 'id', 'integer'), col(2, 'title', '_tandem_title', 'text')];
  const up = composeUp(original, [
    { columns: renamed, up: [], down: [] },
    { columns: altered, up: [{ id: 2, expression: 'upper(title)' }], down: [] },
  ])!;
  assert.deepEqual(up.targets, ['_tandem_title']);
  assert.match(up.lateral, /__tandem_row\."name" AS "title"/);
  assert.match(up.lateral, /CAST\(\(upper\(title\)\) AS text\) AS "__tandem_v1_1"/);
});

test('two alters of one column: the second reads the value the first computed; a bare column of the same type is passed on', () => {
  const original = [col(1, 'id', 'id', 'integer'), col(2, 'qty', 'qty', 'text')];
  const s1 = [col(1, 'id', 'id', 'integer'), col(2, 'qty', '_tandem_qty', 'integer')];
  const s2 = [col(1, 'id', 'id', 'integer'), col(2, 'qty', '_tandem_qty', 'bigint')];
  const s3 = [col(1, 'id', 'id', 'integer'), col(2, 'qty', '_tandem_qty', 'bigint')];
  const up = composeUp(original, [
    { columns: s1, up: [{ id: 2, expression: 'CAST(qty AS integer)' }], down: [] },
    { columns: s2, up: [{ id: 2, expression: 'qty * 2' }], down: [] },
    { columns: s3, up: [{ id: 2, expression: 'qty' }], down: [] },
  ])!;
  assert.deepEqual(up.targets, ['_tandem_qty']);
  // The second stage binds qty to the first stage's value, from the level before it.
  assert.match(up.lateral, /__tandem_prev\."__tandem_v0_1" AS "qty"/);
  // The third (a bare `qty` of the same type) computes nothing: the output is the second's value.
  assert.doesNotMatch(up.lateral, /__tandem_v2_/);
  assert.match(up.lateral, /^LATERAL \(SELECT __tandem_prev\."__tandem_v1_1" AS "_tandem_qty" FROM/);
});

test('a bare column of the same type needs no subquery at all', () => {
  const original = [col(1, 'id', 'id', 'integer'), col(2, 'email', 'email', 'text')];
  const after = [col(1, 'id', 'id', 'integer'), col(2, 'email', '_tandem_email', 'text')];
  assert.deepEqual(composeUp(original, [{ columns: after, up: [{ id: 2, expression: '"email"' }], down: [] }]), {
    targets: ['_tandem_email'],
    lateral: 'LATERAL (SELECT __tandem_row."email" AS "_tandem_email") AS __tandem_up',
  });
});

test('NEW.<column> (add_column default for old rows) reads the row', () => {
  const original = [col(1, 'id', 'id', 'integer')];
  const after = [...original, col(2, 'plan', 'plan', 'text')];
  const up = composeUp(original, [{ columns: after, up: [{ id: 2, expression: `coalesce(NEW."plan", 'free')` }], down: [] }])!;
  assert.match(up.lateral, /LATERAL \(SELECT __tandem_row\.\*\) AS "new"/);
});

test('nothing to fill: undefined; a column the old version writes itself is not a target', () => {
  const original = [col(1, 'id', 'id', 'integer'), col(2, 'name', 'name', 'text')];
  const stages: Stage[] = [{ columns: original, up: [{ id: 2, expression: 'lower(name)' }], down: [] }];
  assert.equal(composeUp(original, stages), undefined);
  assert.equal(composeUp(original, [{ columns: original, up: [], down: [] }]), undefined);
});

test('character lengths are left to the assignment, as in PL/pgSQL', () => {
  assert.equal(castTypeOf('varchar(12)'), 'character varying');
  assert.equal(castTypeOf('character varying(3)[]'), 'character varying[]');
  assert.equal(castTypeOf('char(4)'), 'bpchar');
  assert.equal(castTypeOf('numeric(10,2)'), 'numeric(10,2)');
  assert.equal(castTypeOf('integer'), 'integer');
});
