import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs } from '../../src/exec/lock-retry.js';
import { VirtualSchema } from '../../src/model/virtual-schema.js';
import { isConstantDefault } from '../../src/operations/handler.js';
import { fitName, shadowColumn } from '../../src/plan/names.js';
import { viewSql } from '../../src/plan/planner.js';
import { triggerFunctionSql } from '../../src/plan/trigger.js';
import { ident } from '../../src/sql/ident.js';

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
  assert.equal(
    viewSql('public', 'public_m1', t),
    'CREATE VIEW "public_m1"."users" AS SELECT "id", "_tandem_new_score" AS "score" FROM "public"."users"',
  );
});

test('the sync trigger picks the direction from tandem.version, else the search_path', () => {
  const oldT = table();
  const newT = table();
  newT.columns[1] = { ...newT.columns[1]!, physical: '_tandem_new_score', type: 'integer' };
  const sql = triggerFunctionSql({
    schema: 'public',
    table: 'users',
    functionName: 'sync_public_m1_users',
    triggerName: '_tandem_sync_public_m1',
    versionName: 'm1',
    versionSchema: 'public_m1',
    oldTable: oldT,
    newTable: newT,
    up: [{ target: '_tandem_new_score', expression: 'CAST(score AS integer)' }],
    down: [{ target: 'score', expression: 'CAST(score AS text)' }],
    marker: true,
  });
  assert.match(sql, /current_setting\('tandem\.version', true\)/);
  assert.match(sql, /'public_m1' = ANY \(current_schemas\(false\)\)/);
  // new writers: variables named as the new version names them, assigning the old column
  assert.match(sql, /IF _tandem_writer_is_new THEN\s+DECLARE\s+"id"[^;]+;\s+"score" "public"\."users"\."_tandem_new_score"%TYPE := NEW\."_tandem_new_score";\s+BEGIN\s+NEW\."score" := \(CAST\(score AS text\)\);/);
  // old writers (and the backfill): the old names, assigning the shadow column
  assert.match(sql, /ELSE\s+DECLARE\s+"id"[^;]+;\s+"score" "public"\."users"\."score"%TYPE := NEW\."score";\s+BEGIN\s+NEW\."_tandem_new_score" := \(CAST\(score AS integer\)\);/);
  assert.match(sql, /NEW\."_tandem_synced" := true;/);
});
