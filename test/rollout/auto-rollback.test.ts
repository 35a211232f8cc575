// @tier slow
/**
 * Auto-rollback under traffic: a migration whose new version makes some writes fail (a new CHECK
 * the new application violates), real clients of both versions routed by key through
 * versionRouter, and `tandem rollout run … --gate error-rate<0.01 --on-fail rollback` (the real
 * CLI). The gate fails at the first step; by the server's own clock 0% is routed back within one
 * gate check (--check-every) of the first failing health report and within one step interval of
 * the step; then the migration is rolled back, and every acknowledged write of both versions is
 * in the table afterwards, as the old version must see it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { versionRouter } from '../../src/client/router.js';
import { startCanaryTraffic } from '../../src/demo/canary-traffic.js';
import { start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import type { RolloutRunResult } from '../../src/rollout/run.js';
import { Ledger, type TrafficShape, verifyTable } from '../../src/traffic/workload.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/db.js';

const SEED_ROWS = 2000;
const NEW_VERSION = 'public_0007_qty_positive';
const CHECK_EVERY_MS = 500;
const INTERVAL_MS = 5000;

/** `qty` must become positive: the old version may write 0 (`up` makes it 1), the new one writes 0 a quarter of the time and fails. */
const shape: TrafficShape = {
  oldTable: 'items',
  newTable: 'items',
  oldColumns: [
    { name: 'qty', gen: (g) => g.n % 4 },
    { name: 'note', gen: (g) => `old-${g.tag}` },
  ],
  newColumns: [
    { name: 'qty', gen: (g) => g.n % 4 },
    { name: 'note', gen: (g) => `new-${g.tag}` },
  ],
  toNew: (o) => ({ qty: Math.max(Number(o['qty']), 1), note: o['note']! }),
  toOld: (n) => ({ ...n }),
  sync: { watched: { old: ['qty'], new: ['qty'] }, derived: { old: ['qty'], new: ['qty'] } },
  seedRow: (id) => ({ qty: id % 3, note: `seed ${id}` }),
};

test('a failing new version is routed back to 0% within one gate check, then rolled back; no acknowledged write is lost', async (t) => {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 8 });
  pool.on('error', () => undefined);
  try {
    await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL, note text NOT NULL);
      INSERT INTO items SELECT g, g % 3, 'seed ' || g FROM generate_series(1, ${SEED_ROWS}) g;`);
    const engine = await db.connect('tandem-engine');
    const migration = {
      name: '0007_qty_positive',
      operations: [{ alter_column: { table: 'items', column: 'qty', check: { name: 'qty_positive', constraint: 'qty > 0' }, up: 'GREATEST(qty, 1)', down: 'qty' } }],
    };
    await start(engine, parseMigration(migration, undefined), { lockTimeoutMs: 1_000 });

    const router = await versionRouter({ pool, schema: 'public', pollIntervalMs: 200, health: { flushIntervalMs: 250, instanceId: 'app' } });
    const ledger = new Ledger(shape, SEED_ROWS);
    const traffic = startCanaryTraffic({ router, shape, ledger, newVersion: NEW_VERSION, clients: 4, seedRows: SEED_ROWS, thinkMs: 1 });
    let run;
    try {
      run = await runCli([
        '--database-url',
        db.url,
        '--json',
        'rollout',
        'run',
        '--steps',
        '5,25,50,100',
        '--interval',
        `${INTERVAL_MS}ms`,
        '--check-every',
        `${CHECK_EVERY_MS}ms`,
        '--gate',
        'error-rate<0.01',
        '--min-statements',
        '3',
        '--on-fail',
        'rollback',
        '--drain',
        '1s',
      ]);
    } finally {
      await traffic.stop();
      await router.close();
    }
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /error: gate error-rate<0\.01 failed: new version error-rate/);
    const result = JSON.parse(run.stdout) as RolloutRunResult;
    assert.equal(result.outcome, 'gate-failed');
    assert.equal(result.failure?.gate, 'error-rate<0.01');
    assert.equal(result.failure?.atPercent, 5);
    assert.equal(result.failure?.rolledBack, true, JSON.stringify(result.failure));
    assert.deepEqual(
      result.steps.map((s) => s.percent),
      [5],
    );

    // The server's record: the step, the first health report with a failure of the new version, the routing back.
    const audit = await db.query<{ step_id: string; at: Date }>(`SELECT step_id, started_at AS at FROM tandem.audit_log WHERE phase = 'rollout' ORDER BY id`);
    assert.deepEqual(
      audit.rows.map((r) => r.step_id),
      ['percent 5', 'percent 0'],
    );
    const [stepAt, backAt] = audit.rows.map((r) => r.at.getTime()) as [number, number];
    const firstError = await db.query<{ at: Date }>(`SELECT min(recorded_at) AS at FROM tandem.version_health WHERE version = $1 AND errors > 0`, [NEW_VERSION]);
    const errorAt = firstError.rows[0]!.at.getTime();
    t.diagnostic(`step -> first failure reported ${errorAt - stepAt} ms -> routed back ${backAt - errorAt} ms (step -> back ${backAt - stepAt} ms)`);
    assert.ok(errorAt >= stepAt, 'no failure of the new version before it got traffic');
    // One check period, plus what a check itself takes on a loaded 2-core machine.
    assert.ok(backAt - errorAt <= CHECK_EVERY_MS + 750, `routed back ${backAt - errorAt} ms after the first failure was reported`);
    assert.ok(backAt - stepAt < INTERVAL_MS, `routed back ${backAt - stepAt} ms after the step`);
    const phase = await db.query<{ phase: string; rolled_back_at: Date }>(`SELECT phase, rolled_back_at FROM tandem.migrations WHERE name = '0007_qty_positive'`);
    assert.equal(phase.rows[0]!.phase, 'rolled_back');
    assert.ok(phase.rows[0]!.rolled_back_at.getTime() >= backAt);

    // Both versions really ran, the new one failing on the CHECK only, the old one never.
    assert.ok(traffic.counts.new.transactions > traffic.counts.new.failed && traffic.counts.new.failed > 0, JSON.stringify(traffic.counts.new));
    assert.ok(
      traffic.counts.new.errors.every((e) => /qty_positive/.test(e)),
      traffic.counts.new.errors.join('\n'),
    );
    assert.equal(traffic.counts.old.failed, 0, traffic.counts.old.errors.join('\n'));
    assert.equal(traffic.counts.old.wrong + traffic.counts.new.wrong, 0);
    // Every acknowledged write of both versions, read back in the old shape after the rollback.
    const verify = await verifyTable(engine, 'items', shape.oldColumns, ledger, 'old');
    assert.ok(ledger.acknowledged > 100, `only ${ledger.acknowledged} acknowledged writes`);
    assert.deepEqual({ missing: verify.missing, wrong: verify.wrong, unexpected: verify.unexpected }, { missing: 0, wrong: 0, unexpected: 0 }, verify.samples.join('\n'));
    const newWrites = [...ledger.entries.values()].filter((e) => e?.writer === 'new').length;
    assert.ok(newWrites > 0, 'the new version acknowledged writes before it was routed back');
  } finally {
    await pool.end().catch(() => undefined);
    await db.drop();
  }
});
