/**
 * The estimator, the synthetic-row generator and the schema copy's SQL, without a database: the
 * estimate is a pure function of a plan, the live statistics and a calibration.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Calibration } from '../../src/estimate/calibrate.js';
import { tablesToCalibrate } from '../../src/estimate/calibrate.js';
import { CONCURRENT_INDEX_FACTOR, estimatePlan } from '../../src/estimate/estimator.js';
import { type EstimateFacts, rowsOf, type TableStats } from '../../src/estimate/facts.js';
import { tablesOfPlan } from '../../src/estimate/run.js';
import type { Plan } from '../../src/plan/types.js';
import { foreignKeyTarget } from '../../src/rehearse/columns.js';
import { checkExpression, createTableSql, indexOnTable, sequenceOfDefault, type TableSource } from '../../src/rehearse/schema-copy.js';
import { baseType, columnPlan, distinctCount, insertSql, type SyntheticColumn } from '../../src/rehearse/synthetic.js';
import { renderEstimate } from '../../src/cli/render-plan.js';

const T = '"public"."users"';

const plan: Plan = {
  formatVersion: 1,
  schema: 'public',
  migration: 'm1',
  versionSchema: 'public_m1',
  previousVersionSchema: null,
  start: [
    {
      kind: 'sql',
      id: 'expand:users',
      description: 'expand users',
      transactional: true,
      actions: [
        { sql: `ALTER TABLE ${T} ADD COLUMN "_tandem_new_score" integer`, lock: 'ACCESS EXCLUSIVE', table: T, transactional: true, description: 'add shadow column' },
        {
          sql: `CREATE TRIGGER x BEFORE INSERT ON ${T} FOR EACH ROW EXECUTE FUNCTION f()`,
          lock: 'SHARE ROW EXCLUSIVE',
          table: T,
          transactional: true,
          description: 'sync trigger',
        },
      ],
    },
    {
      kind: 'backfill',
      id: 'backfill:users',
      description: 'backfill users',
      schema: 'public',
      table: 'users',
      keyColumns: ['id'],
      keyTypes: ['bigint'],
      markerColumn: '_tandem_synced',
      estimatedRows: 10,
    },
    {
      kind: 'sql',
      id: 'build:users:0',
      description: 'create index i',
      transactional: false,
      actions: [
        {
          sql: `CREATE INDEX CONCURRENTLY IF NOT EXISTS "i" ON ${T} ("_tandem_new_score")`,
          lock: 'SHARE UPDATE EXCLUSIVE',
          table: T,
          transactional: false,
          description: 'create index i',
          concurrentIndex: { schema: 'public', name: 'i' },
        },
      ],
    },
  ],
  complete: [
    {
      kind: 'backfill',
      id: 'verify:users',
      description: 'check users',
      schema: 'public',
      table: 'users',
      keyColumns: ['id'],
      keyTypes: ['bigint'],
      markerColumn: '_tandem_synced',
      estimatedRows: 10,
      verifyOnly: true,
    },
    {
      kind: 'sql',
      id: 'validate:users',
      description: 'validate',
      transactional: true,
      actions: [{ sql: `ALTER TABLE ${T} VALIDATE CONSTRAINT c`, lock: 'SHARE UPDATE EXCLUSIVE', table: T, transactional: true, description: 'validate c', scans: true }],
    },
  ],
  rollback: [{ kind: 'sql', id: 'raw', description: 'raw', transactional: true, actions: [{ sql: 'SELECT 1', lock: 'none', transactional: true, description: 'raw sql (down)' }] }],
};

const users: TableStats = {
  table: 'users',
  reltuples: 1_000_000,
  relpages: 10_000,
  liveTuples: 990_000,
  heapBytes: 10_000 * 8192,
  totalBytes: 12_000 * 8192,
  indexes: [{ name: 'users_pkey', bytes: 2_000 * 8192 }],
  rows: 1_000_000,
  rowWidth: 60,
  columns: [],
};
const facts: EstimateFacts = { schema: 'public', serverVersion: '15.0', serverMajor: 15, blockSize: 8192, tables: [users] };
const calibration: Calibration = {
  serverVersion: '15.0',
  roundTripMs: 0.5,
  commitMs: 2,
  seconds: 1,
  copies: 'schema',
  failures: [],
  tables: [
    {
      table: 'users',
      sampleRows: 10_000,
      batchSize: 1000,
      backfillSeconds: 0.2,
      backfillMethod: 'batch-statement',
      batches: 10,
      sweepSeconds: 0.01,
      indexSeconds: { [`CREATE INDEX CONCURRENTLY IF NOT EXISTS "i" ON ${T} ("_tandem_new_score")`]: 0.03 },
      scanSeconds: 0.002,
      verifySeconds: 0.004,
      notes: [],
    },
  ],
};

describe('estimatePlan (pure)', () => {
  const e = estimatePlan(plan, facts, calibration, { batchSize: 1000 });

  test('backfill: rows × the measured rate + one commit per batch + the sweep', () => {
    const b = e.start.steps[1]!;
    assert.equal(b.rowsTouched, 1_000_000);
    assert.equal(b.lock, 'ROW EXCLUSIVE');
    const expected = 1_000_000 * (0.2 / 10_000) + 1000 * 0.002 + 1_000_000 * (0.01 / 10_000);
    assert.ok(Math.abs(b.estimatedSeconds! - expected) < 1e-9, `${b.estimatedSeconds} vs ${expected}`);
    assert.match(b.basis, /1,000,000 rows × 20\.0 µs\/row/);
  });

  test('an index built concurrently: rows × the rate of the same index on the sample × the concurrent factor', () => {
    const i = e.start.steps[2]!;
    assert.equal(i.lock, 'SHARE UPDATE EXCLUSIVE');
    assert.ok(Math.abs(i.estimatedSeconds! - 1_000_000 * (0.03 / 10_000) * CONCURRENT_INDEX_FACTOR) < 1e-9);
  });

  test('instant DDL: its strongest lock, no rows, round trips and a commit', () => {
    const x = e.start.steps[0]!;
    assert.equal(x.lock, 'ACCESS EXCLUSIVE');
    assert.equal(x.rowsTouched, 0);
    assert.ok(x.estimatedSeconds! < 0.01);
    assert.match(x.basis, /instant DDL/);
  });

  test('validate and the sync check are scans; raw SQL is not estimated; totals add up', () => {
    assert.ok(Math.abs(e.complete.steps[1]!.estimatedSeconds! - 1_000_000 * (0.002 / 10_000) - (0.002 + 0.001)) < 1e-9);
    assert.equal(e.complete.steps[0]!.rowsTouched, 1_000_000);
    // The sync check includes the verify complete runs before it: scan + verify + a round trip.
    assert.ok(Math.abs(e.complete.steps[0]!.estimatedSeconds! - (1_000_000 * (0.002 / 10_000) + 1_000_000 * (0.004 / 10_000) + 0.0005)) < 1e-9);
    assert.match(e.complete.steps[0]!.basis, /tandem verify/);
    assert.equal(e.rollback.steps[0]!.estimatedSeconds, null);
    assert.equal(e.rollback.unestimated, 1);
    const sum = e.start.steps.reduce((t, s) => t + s.estimatedSeconds!, 0);
    assert.ok(Math.abs(e.start.totalSeconds! - sum) < 1e-9);
  });

  test('without a calibration (--no-estimate): locks and rows, no durations', () => {
    const n = estimatePlan(plan, facts, undefined, { batchSize: 1000 });
    assert.equal(n.calibrated, false);
    assert.equal(n.start.totalSeconds, null);
    assert.equal(n.start.steps[1]!.rowsTouched, 1_000_000);
    assert.equal(n.start.steps[1]!.estimatedSeconds, null);
    const noSteps = estimatePlan({ ...plan, complete: [] }, facts, calibration, { batchSize: 1000 });
    assert.equal(noSteps.complete.totalSeconds, 0, 'a phase with nothing to do takes no time');
    assert.match(renderEstimate(n), /not estimated/);
  });

  test('an empty table takes no time; a table the plan creates has no rows', () => {
    const empty = estimatePlan(plan, { ...facts, tables: [{ ...users, rows: 0 }] }, calibration, { batchSize: 1000 });
    assert.equal(empty.start.steps[1]!.estimatedSeconds, 0);
    assert.deepEqual(tablesToCalibrate(plan, { ...facts, tables: [{ ...users, rows: 0 }] }), []);
    assert.deepEqual(tablesToCalibrate(plan, facts), ['users']);
    assert.deepEqual(tablesOfPlan(plan), ['users']);
  });

  test('rowsOf: reltuples scaled to the heap as it is now; n_live_tup before the first ANALYZE', () => {
    assert.equal(rowsOf({ reltuples: 100, relpages: 1, liveTuples: 5, heapBytes: 2 * 8192 }, 8192), 200);
    assert.equal(rowsOf({ reltuples: -1, relpages: 0, liveTuples: 42, heapBytes: 8192 }, 8192), 42);
  });
});

const col = (over: Partial<SyntheticColumn>): SyntheticColumn => ({
  name: 'c',
  type: 'text',
  notNull: false,
  hasDefault: false,
  serverGenerated: false,
  isEnum: false,
  distinct: false,
  stats: undefined,
  ...over,
});

describe('synthetic rows (pure SQL)', () => {
  test('types and distinct counts', () => {
    assert.deepEqual(baseType('character varying(40)'), { base: 'character varying', length: 40, array: false });
    assert.deepEqual(baseType('integer[]'), { base: 'integer', length: undefined, array: true });
    assert.equal(distinctCount({ column: 'c', nullFrac: 0, nDistinct: -0.5, avgWidth: 4, mostCommonVals: null, mostCommonFreqs: null, histogramBounds: null }, 1000), 500);
  });

  test('a key column gets distinct values from the row number; a sequence-filled one is left to the server', () => {
    assert.match(columnPlan(col({ type: 'bigint', distinct: true }), 10).expression!, /\(g\)/);
    assert.equal(columnPlan(col({ type: 'bigint', serverGenerated: true }), 10).expression, null);
  });

  test('nulls at the live null fraction, most common values at their frequencies, numbers in the histogram range', () => {
    const stats = { column: 'c', nullFrac: 0.2, nDistinct: 3, avgWidth: 5, mostCommonVals: ['a', 'b'], mostCommonFreqs: [0.5, 0.3], histogramBounds: null };
    const p = columnPlan(col({ stats }), 1000).expression!;
    assert.match(p, /random\(\) < 0\.200000 THEN NULL/);
    assert.match(p, /width_bucket\(random\(\), ARRAY\[0\.000000, 0\.625000\]/);
    const num = columnPlan(
      col({ type: 'integer', stats: { ...stats, nullFrac: 0, mostCommonVals: null, mostCommonFreqs: null, histogramBounds: ['10', '99'] } }),
      1000,
    ).expression!;
    assert.match(num, /'10'::numeric \+ floor\(random\(\) \* \(\('99'::numeric - '10'::numeric\) \+ 1\)\)/);
  });

  test('text whose live values are numbers stays numeric (an `up` that casts it still works)', () => {
    const stats = { column: 'c', nullFrac: 0, nDistinct: 1000, avgWidth: 4, mostCommonVals: ['7'], mostCommonFreqs: [0.01], histogramBounds: ['0', '500', '999'] };
    assert.match(columnPlan(col({ stats }), 100_000).expression!, /\(0 \+ floor\(random\(\) \* 1000\)\)::bigint::text::text/);
  });

  test('a NOT NULL column of an unknown type without a default is reported', () => {
    assert.match(columnPlan(col({ type: 'tsvector', notNull: true }), 10).note!, /will fail/);
    assert.equal(columnPlan(col({ type: 'tsvector' }), 10).expression, 'NULL');
  });

  test('insertSql: one set-based INSERT … SELECT over generate_series', () => {
    const sql = insertSql(
      '"public"."t"',
      [
        { column: 'a', expression: 'g' },
        { column: 'b', expression: null },
      ],
      100,
      200,
    );
    assert.match(sql, /^INSERT INTO "public"\."t" \("a"\)\s+SELECT g\s+FROM generate_series\(101::bigint, 200::bigint\) g$/);
  });
});

describe('schema copy (pure SQL)', () => {
  const table: TableSource = {
    schema: 'public',
    name: 'users',
    columns: [
      { name: 'id', attnum: 1, type: 'bigint', notNull: true, default: "nextval('users_id_seq'::regclass)", identity: '', generated: '', comment: null },
      { name: 'n', attnum: 2, type: 'integer', notNull: false, default: null, identity: 'd', generated: '', comment: null },
    ],
    primaryKey: ['id'],
    indexes: [],
    constraints: [],
    estimatedRows: 0,
  };

  test('CREATE TABLE with server values, and without them for a copy inside the live database', () => {
    assert.equal(
      createTableSql(table, '"x"."y"'),
      `CREATE TABLE "x"."y" (\n  "id" bigint DEFAULT nextval('users_id_seq'::regclass) NOT NULL,\n  "n" integer GENERATED BY DEFAULT AS IDENTITY\n)`,
    );
    assert.equal(createTableSql(table, '"x"."y"', { serverValues: false }), 'CREATE TABLE "x"."y" (\n  "id" bigint NOT NULL,\n  "n" integer\n)');
    assert.equal(sequenceOfDefault("nextval('users_id_seq'::regclass)"), 'users_id_seq');
  });

  test('an index moved to another table; CHECK and FK definitions read back', () => {
    assert.equal(indexOnTable('CREATE UNIQUE INDEX users_e ON public.users USING btree (email)', '"s"."c"'), 'CREATE UNIQUE INDEX ON "s"."c" USING btree (email)');
    assert.equal(indexOnTable('CREATE INDEX CONCURRENTLY IF NOT EXISTS "i" ON "public"."users" ("a b")', '"s"."c"'), 'CREATE INDEX ON "s"."c" ("a b")');
    assert.equal(checkExpression('CHECK ((n > 0)) NOT VALID'), '(n > 0)');
    assert.deepEqual(foreignKeyTarget('FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE'), {
      column: 'user_id',
      schema: undefined,
      table: 'users',
      parentColumn: 'id',
    });
  });
});
