/**
 * The sync trigger's PL/pgSQL, exactly (no database): a flat walk through the operations, where
 * only the columns an operation gives a value are computed, each expression sees the column names
 * as its operation does, and a rename costs nothing.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Stage, StageColumn } from '../../src/operations/context.js';
import { columnsBesides, createTriggerSql, type TriggerSpec, triggerColumns, triggerFunctionSql } from '../../src/plan/trigger.js';
import { loadScanner } from '../../src/sql/rename-refs.js';

before(async () => {
  await loadScanner();
});

const col = (id: number, name: string, physical: string, type: string): StageColumn => ({ id, name, physical, type });

function spec(original: StageColumn[], stages: Stage[], marker = true): TriggerSpec {
  return {
    schema: 'public',
    table: 'users',
    functionName: 'sync_public_m1_users',
    triggerName: '_tandem_sync_public_m1',
    versionName: 'm1',
    versionSchema: 'public_m1',
    original,
    stages,
    marker,
  };
}

/**
 * users(id, name, score, legacy), then: rename name → full_name; score → points integer; points
 * NOT NULL (same shadow); add handle from lower(full_name); drop legacy (down: false).
 */
const original = [col(1, 'id', 'id', 'bigint'), col(2, 'name', 'name', 'text'), col(3, 'score', 'score', 'text'), col(4, 'legacy', 'legacy', 'boolean')];
const renamed = [col(1, 'id', 'id', 'bigint'), col(2, 'full_name', 'name', 'text'), col(3, 'score', 'score', 'text'), col(4, 'legacy', 'legacy', 'boolean')];
const retyped = [col(1, 'id', 'id', 'bigint'), col(2, 'full_name', 'name', 'text'), col(3, 'points', '_tandem_new_points', 'integer'), col(4, 'legacy', 'legacy', 'boolean')];
const added = [...retyped, col(5, 'handle', 'handle', 'text')];
const dropped = added.filter((c) => c.id !== 4);
const chain: Stage[] = [
  { columns: renamed, up: [], down: [], operationIndex: 0, operation: 'rename_column' },
  { columns: retyped, up: [{ id: 3, expression: 'CAST(score AS integer)' }], down: [{ id: 3, expression: 'CAST(points AS text)' }], operationIndex: 1, operation: 'alter_column' },
  { columns: retyped, up: [{ id: 3, expression: 'coalesce(points, 0)' }], down: [{ id: 3, expression: '"points"' }], operationIndex: 2, operation: 'alter_column' },
  { columns: added, up: [{ id: 5, expression: 'lower(full_name)' }], down: [], operationIndex: 3, operation: 'add_column' },
  { columns: dropped, up: [], down: [{ id: 4, expression: 'false' }], operationIndex: 4, operation: 'drop_column' },
];

test('a chain of five operations: each expression over the names its operation sees, unchanged columns never copied', () => {
  // Old writers: `up` of operation 1 sees "score" (the row's), operation 2's sees "points" (what
  // operation 1 computed), operation 3's sees "full_name" (the row's "name": the rename is free).
  // New writers: operation 4's `down` needs no column; operation 2's `down` is "points" itself,
  // passed on; operation 1's sees "points" (the row's shadow).
  assert.equal(
    triggerFunctionSql(spec(original, chain)),
    `CREATE OR REPLACE FUNCTION "tandem"."sync_public_m1_users"() RETURNS trigger LANGUAGE plpgsql AS $tandem$
DECLARE
  _tandem_writer_is_new boolean := coalesce(
    nullif(current_setting('tandem.version', true), '') IN ('m1', 'public_m1'),
    'public_m1' = ANY (current_schemas(false)));
  _tandem_down4_3 boolean;
  _tandem_down1_2 text;
  _tandem_up1_2 integer;
  _tandem_up2_2 integer;
  _tandem_up3_4 text;
BEGIN
  IF _tandem_writer_is_new THEN
    -- operations[4] (drop_column): down, over the columns after it
    _tandem_down4_3 := (false);
    -- operations[1] (alter_column): down, over the columns after it
    DECLARE
      "points" integer := NEW."_tandem_new_points";
    BEGIN
      _tandem_down1_2 := (CAST(points AS text));
    END;
    NEW."legacy" := _tandem_down4_3;
    NEW."score" := _tandem_down1_2;
  ELSE
    -- operations[1] (alter_column): up, over the columns before it
    DECLARE
      "score" text := NEW."score";
    BEGIN
      _tandem_up1_2 := (CAST(score AS integer));
    END;
    -- operations[2] (alter_column): up, over the columns before it
    DECLARE
      "points" integer := _tandem_up1_2;
    BEGIN
      _tandem_up2_2 := (coalesce(points, 0));
    END;
    -- operations[3] (add_column): up, over the columns before it
    DECLARE
      "full_name" text := NEW."name";
    BEGIN
      _tandem_up3_4 := (lower(full_name));
    END;
    NEW."_tandem_new_points" := _tandem_up2_2;
    NEW."handle" := _tandem_up3_4;
  END IF;
  NEW."_tandem_synced" := true;
  RETURN NEW;
END
$tandem$`,
  );
});

test('operations that give no values (renames, comments) emit no code', () => {
  const sql = triggerFunctionSql(spec(original, [chain[0]!, { ...chain[0]!, operationIndex: 1, operation: 'alter_column' }], false));
  assert.match(sql, /IF _tandem_writer_is_new THEN\n {4}NULL; -- nothing to fill in\n {2}ELSE\n {4}NULL; -- nothing to fill in\n {2}END IF;\n {2}RETURN NEW;/);
  assert.doesNotMatch(sql, /name/);
});

test('a write that copies another written column reads it before it is overwritten', () => {
  // Operation 1 adds b (the old version does not write it); operation 2 gives b a value and sets
  // c to b as the row has it: c must get the row's b, not the new one.
  const a = col(1, 'a', 'a', 'text');
  const b = col(2, 'b', 'b', 'text');
  const c = col(3, 'c', 'c', 'text');
  const sql = triggerFunctionSql(
    spec(
      [a],
      [
        { columns: [a, b], up: [], down: [], operationIndex: 0 },
        {
          columns: [a, b, c],
          up: [
            { id: 2, expression: "'x'" },
            { id: 3, expression: 'b' },
          ],
          down: [],
          operationIndex: 1,
        },
      ],
      false,
    ),
  );
  assert.match(sql, /_tandem_up_kept_0 := NEW\."b";\n {4}NEW\."b" := _tandem_up1_1;\n {4}NEW\."c" := _tandem_up_kept_0;/);
});

test('an expression the scanner cannot read binds every column (the trials report it)', () => {
  const a = col(1, 'a', 'a', 'text');
  const other = col(2, 'other', 'other', 'text');
  const sql = triggerFunctionSql(
    spec([a, other], [{ columns: [col(1, 'a', '_tandem_new_a', 'text'), other], up: [{ id: 1, expression: "a || 'x" }], down: [], operationIndex: 0 }], false),
  );
  assert.match(sql, /DECLARE\n {6}"a" text := NEW\."a";\n {6}"other" text := NEW\."other";\n {4}BEGIN/);
});

test('a type cast through a bare column name is still evaluated (into the new type)', () => {
  const a = col(1, 'a', 'a', 'text');
  const sql = triggerFunctionSql(
    spec([a], [{ columns: [col(1, 'a', '_tandem_new_a', 'integer')], up: [{ id: 1, expression: '"a"' }], down: [{ id: 1, expression: '"a"' }], operationIndex: 0 }], false),
  );
  assert.match(sql, /_tandem_up0_0 integer;/);
  assert.match(sql, /_tandem_up0_0 := \("a"\);/);
  assert.match(sql, /_tandem_down0_0 := \("a"\);/);
});

test('the trigger watches the columns it reads or writes, and the marker: an UPDATE of any other column runs no PL/pgSQL', () => {
  // Reads: score (up of operation 1), name (up of operation 3, as full_name), the shadow (down of
  // operation 1). Writes: the shadow and handle (old writers), score and legacy (new writers).
  const withId = [...original.slice(0, 1), col(6, 'note', 'note', 'text'), ...original.slice(1)];
  const s = spec(withId, chain);
  assert.deepEqual(triggerColumns(s), ['name', 'score', 'legacy', '_tandem_new_points', 'handle', '_tandem_synced']);
  assert.ok(!triggerColumns(s).includes('id') && !triggerColumns(s).includes('note'), 'a column no expression reads is not watched');
  // While rows are still to be backfilled: every column but those the backfill writes (its own UPDATEs run no PL/pgSQL).
  const duringBackfill = columnsBesides(s, ['_tandem_new_points', 'handle', '_tandem_synced']);
  assert.deepEqual(duringBackfill, ['id', 'note', 'name', 'score', 'legacy']);
  assert.equal(
    createTriggerSql(s, duringBackfill),
    'CREATE TRIGGER "_tandem_sync_public_m1" BEFORE INSERT OR UPDATE OF "id", "note", "name", "score", "legacy" ON "public"."users" FOR EACH ROW EXECUTE FUNCTION "tandem"."sync_public_m1_users"()',
  );
  // Once every row is in sync it is narrowed in place; no WHEN clause (prepared per statement) either way.
  const narrowed = createTriggerSql(s, triggerColumns(s), true);
  assert.match(
    narrowed,
    /^CREATE OR REPLACE TRIGGER "_tandem_sync_public_m1" BEFORE INSERT OR UPDATE OF "name", "score", "legacy", "_tandem_new_points", "handle", "_tandem_synced" ON/,
  );
  assert.doesNotMatch(narrowed, /WHEN/);
  assert.match(createTriggerSql(s, 'every update'), /BEFORE INSERT OR UPDATE ON "public"\."users" FOR EACH ROW EXECUTE/);
  // Without a marker (nothing to backfill) the marker is not watched.
  assert.ok(!triggerColumns(spec(withId, chain, false)).includes('_tandem_synced'));
});
