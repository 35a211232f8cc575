import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs } from '../../src/exec/lock-retry.js';
import { VirtualSchema } from '../../src/model/virtual-schema.js';
import { isConstantDefault } from '../../src/operations/handler.js';
import { fitName, shadowColumn } from '../../src/plan/names.js';
import { viewSql } from '../../src/plan/version-schema.js';
import { triggerFunctionSql } from '../../src/plan/trigger.js';
import { ident } from '../../src/sql/ident.js';
import { loadScanner } from '../../src/sql/rename-refs.js';

test('identifiers are always quoted, embedded quotes doubled', () => {
  assert.equal(ident('users'), '"users"');
  assert.equal(ident('we"ird'), '"we""ird"');
});

test('names tandem creates fit in 63 bytes and stay distinct', () => {
  const long = 'x'.repeat(80);
  assert.ok(Buffer.byteLength(fitName(long)) <= 63);
  assert.notEqual(fitName(`${long}a`), fitName(`${long}b`));
  assert.equal(shadowColumn('score'), '_tandem_new_score');
});

test('only literal defaults count as constant (added without a rewrite)', () => {
  for (const d of ["'free'", '0', '-1.5', 'true', "'x'::text", "'{}'::jsonb", 'NULL']) assert.ok(isConstantDefault(d), d);
  for (const d of ['now()', 'random()', 'gen_random_uuid()', "nextval('s')", '1 + random()']) assert.ok(!isConstantDefault(d), d);
});

test('backoff grows exponentially with jitter and is capped', () => {
  for (let i = 0; i < 50; i++) {
    const first = backoffMs(1);
    assert.ok(first >= 25 && first <= 50, String(first));
    const late = backoffMs(20);
    assert.ok(late >= 1000 && late <= 2000, String(late));
  }
});

const table = () =>
  VirtualSchema.fromCatalog(
    new Map([
      [
        'users',
        {
          schema: 'public',
          name: 'users',
          oid: 1,
          columns: [
            { name: 'id', attnum: 1, type: 'bigint', notNull: true, default: null, identity: '', generated: '', comment: null },
            { name: 'score', attnum: 2, type: 'text', notNull: false, default: null, identity: '', generated: '', comment: null },
          ],
          primaryKey: ['id'],
          indexes: [],
          constraints: [],
          estimatedRows: 0,
        },
      ],
    ]),
  ).table('users')!;

test('a version view maps the version names onto physical columns', () => {
  const t = table();
  t.columns[1] = { ...t.columns[1]!, physical: '_tandem_new_score' };
  assert.equal(viewSql('public', 'public_m1', t), 'CREATE VIEW "public_m1"."users" AS SELECT "id", "_tandem_new_score" AS "score" FROM "public"."users"');
});

test('the sync trigger picks the direction from tandem.version, else the search_path, and walks the stages', async () => {
  await loadScanner();
  const original = [
    { id: 1, name: 'id', physical: 'id', type: 'bigint' },
    { id: 2, name: 'score', physical: 'score', type: 'text' },
  ];
  const after = [
    { id: 1, name: 'id', physical: 'id', type: 'bigint' },
    { id: 2, name: 'points', physical: '_tandem_new_points', type: 'integer' },
  ];
  const sql = triggerFunctionSql({
    schema: 'public',
    table: 'users',
    functionName: 'sync_public_m1_users',
    triggerName: '_tandem_sync_public_m1',
    versionName: 'm1',
    versionSchema: 'public_m1',
    original,
    stages: [{ columns: after, up: [{ id: 2, expression: 'CAST(score AS integer)' }], down: [{ id: 2, expression: 'CAST(points AS text)' }] }],
    marker: true,
  });
  assert.match(sql, /current_setting\('tandem\.version', true\)/);
  assert.match(sql, /'public_m1' = ANY \(current_schemas\(false\)\)/);
  // new writers: the old column from `down`, over the new names bound to the new version's columns
  assert.match(
    sql,
    /IF _tandem_writer_is_new THEN\s+-- [^\n]*\s+DECLARE\s+"points" integer := NEW\."_tandem_new_points";\s+BEGIN\s+_tandem_down0_1 := \(CAST\(points AS text\)\);\s+END;/,
  );
  assert.match(sql, /NEW\."score" := _tandem_down0_1;/);
  // old writers (and the backfill): the shadow from `up`, over the old names
  assert.match(sql, /ELSE\s+-- [^\n]*\s+DECLARE\s+"score" text := NEW\."score";\s+BEGIN\s+_tandem_up0_1 := \(CAST\(score AS integer\)\);/);
  assert.match(sql, /NEW\."_tandem_new_points" := _tandem_up0_1;/);
  // each writer only writes the columns it does not write itself; unchanged columns are not copied
  assert.doesNotMatch(sql, /NEW\."_tandem_new_points" := _tandem_down/);
  assert.doesNotMatch(sql, /NEW\."score" := _tandem_up/);
  assert.doesNotMatch(sql, /"id"/);
  assert.match(sql, /NEW\."_tandem_synced" := true;/);
});
