/**
 * The zero-downtime benchmark (`npm run bench:zdt`) in small: 20,000 rows, representative
 * operations, short phases. Asserts what must hold at any size — no failed statement, no wrong
 * result, every acknowledged write present with the right values after complete and after
 * rollback, the catalog identical after rollback — and that the run completes. Timings are the
 * benchmark's business, not the test's.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type BenchResult, runBenchmark } from '../../bench/zdt/run.js';
import { adminUrl } from '../helpers/db.js';

const OPS = ['add_column', 'drop_column', 'alter_column_type', 'alter_column_nullable', 'create_constraint_unique', 'drop_constraint', 'rename_table', 'drop_table'];

let result: BenchResult;
const lines: string[] = [];

describe('bench:zdt at 20,000 rows', () => {
  before(
    async () => {
      result = await runBenchmark({
        databaseUrl: adminUrl(),
        rows: 20_000,
        ops: OPS,
        clientsPerVersion: 2,
        thinkMs: 1,
        baselineSeconds: 0.5,
        bothSeconds: 0.5,
        afterSeconds: 0.3,
        minPhaseSeconds: 0.3,
        plain: false,
        log: (line) => lines.push(line),
      });
    },
    { timeout: 170_000 },
  );

  for (const key of OPS) {
    test(key, () => {
      const op = result.ops.find((o) => o.key === key);
      assert.ok(op, `no result for ${key}`);
      assert.deepEqual(
        op.directions.map((d) => d.direction),
        ['complete', 'rollback'],
      );
      for (const d of op.directions) {
        const where = `${key} → ${d.direction}`;
        assert.equal(d.error, undefined, `${where}: ${d.error}\n${lines.slice(-20).join('\n')}`);
        const errors = d.phases.flatMap((p) => p.errors);
        assert.equal(
          d.phases.reduce((s, p) => s + p.failed, 0),
          0,
          `${where}: failed statements: ${errors.join('; ')}`,
        );
        assert.equal(
          d.phases.reduce((s, p) => s + p.wrong, 0),
          0,
          `${where}: wrong results: ${errors.join('; ')}`,
        );
        assert.deepEqual(
          d.phases.map((p) => p.name),
          ['baseline', 'baseline', 'start', 'both', d.direction],
        );
        // Both versions really ran every kind of statement (drop_table has no new-version table).
        const versions = key === 'drop_table' ? ['old'] : ['old', 'new'];
        for (const v of versions) for (const k of ['select', 'insert', 'update', 'upsert', 'delete']) assert.ok((d.kinds[`${v} ${k}`] ?? 0) > 0, `${where}: no ${v} ${k} ran`);
        if (d.tableDropped !== undefined) {
          assert.equal(d.tableDropped, true, `${where}: the table is still there`);
        } else {
          const v = d.verify;
          assert.ok(v, `${where}: not verified`);
          assert.deepEqual(v.samples, [], `${where}: ledger`);
          assert.equal(v.wrong + v.missing + v.unexpected, 0);
          assert.equal(v.rows, v.expectedRows);
          assert.ok(v.acknowledgedWrites > 100, `${where}: only ${v.acknowledgedWrites} acknowledged writes`);
        }
        if (d.direction === 'rollback') assert.deepEqual(d.catalogDiff, [], `${where}: catalog after rollback`);
        else {
          assert.deepEqual(d.leftovers, [], `${where}: left behind by complete`);
          assert.deepEqual(d.shapeProblems, [], `${where}: final schema`);
        }
      }
    });
  }
});
