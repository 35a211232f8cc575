/**
 * `tandem demo --canary`: the rollout under traffic. Application clients route every request by
 * key through versionRouter; `rollout run` widens the new version 1% → 100% under an error-rate
 * gate, printing each version's error rate at each step, and the migration completes. Then a
 * second migration whose new version makes writes fail (a CHECK its application violates): the
 * gate fails at the first step, traffic returns to the old version at once, the migration is
 * rolled back. Every acknowledged write of both runs is read back against the ledger.
 */
import pg from 'pg';
import { versionRouter, type VersionRouter } from '../client/router.js';
import { connect } from '../db/connection.js';
import { complete, start } from '../engine/lifecycle.js';
import { parseMigration } from '../migration/load.js';
import { errorRate, type HealthFacts } from '../rollout/gate-eval.js';
import { parseGate } from '../rollout/gate-spec.js';
import { healthSummary } from '../rollout/render.js';
import { type RolloutRunOptions, type RolloutRunResult, runRollout } from '../rollout/run.js';
import { Ledger, type TrafficShape, verifyTable } from '../traffic/workload.js';
import { carryOver, failingMigration, failingShape, healthyMigration, versionSchemaOf } from './canary-shape.js';
import { type CanaryTraffic, startCanaryTraffic } from './canary-traffic.js';
import { loadDemoUsers } from './run-demo.js';
import { openDemoDatabase } from './demo-database.js';
import { demoShape } from './traffic.js';

export interface CanaryDemoOptions {
  rows: number;
  clients: number;
  databaseUrl: string | undefined;
  json: boolean;
  /** How long each step holds, ms (default 2000). */
  stepMs?: number;
}

export interface CanaryRunSummary {
  migration: string;
  outcome: RolloutRunResult['outcome'];
  steps: { percent: number; newErrorRate: number; oldErrorRate: number; newStatements: number; oldStatements: number }[];
  failure: RolloutRunResult['failure'] | null;
  /** What the application saw, per version: transactions and failed ones. */
  app: { old: { transactions: number; failed: number }; new: { transactions: number; failed: number } };
  acknowledgedWrites: number;
  lostWrites: number;
  seconds: number;
}

export interface CanaryDemoSummary {
  server: string;
  rows: number;
  clients: number;
  gate: string;
  healthy: CanaryRunSummary;
  failing: CanaryRunSummary;
  /** The demo's verdict: run 1 passed and completed, run 2 failed its gate and was rolled back, nothing lost, the old version never failed. */
  ok: boolean;
  errors: string[];
  totalSeconds: number;
}

const GATE = 'error-rate<0.01';
const STEPS = [1, 5, 25, 50, 100];
const fmt = (n: number) => n.toLocaleString('en-US');
const secs = (ms: number) => Math.round(ms / 100) / 10;

export async function runCanaryDemo(opts: CanaryDemoOptions): Promise<CanaryDemoSummary> {
  const out = (s: string) => (opts.json ? process.stderr : process.stdout).write(`${s}\n`);
  const t0 = Date.now();
  const db = await openDemoDatabase(opts.databaseUrl, `tandem_canary_${process.pid}`, out);
  let pool: pg.Pool | undefined;
  let router: VersionRouter | undefined;
  try {
    const { url, label: serverLabel } = db;
    const runner = await connect(url, 'tandem');
    out(`loading ${fmt(opts.rows)} rows into users…`);
    await loadDemoUsers(runner, opts.rows);

    pool = new pg.Pool({ connectionString: url, max: opts.clients + 2, application_name: 'demo-app-canary' });
    pool.on('error', () => undefined);
    // Health every 250 ms and the state polled every 250 ms (besides LISTEN): a demo's seconds are short.
    router = await versionRouter({ pool, schema: 'public', pollIntervalMs: 250, health: { flushIntervalMs: 250, instanceId: 'demo-app' } });
    const rollout = (): Omit<RolloutRunOptions, 'onEvent'> => ({
      schema: 'public',
      steps: STEPS,
      intervalMs: opts.stepMs ?? 2_000,
      checkEveryMs: 250,
      windowMs: opts.stepMs ?? 2_000,
      minStatements: 5,
      gates: [parseGate(GATE)],
      onFail: 'rollback',
      drainMs: 1_000,
      probeTimeoutMs: 2_000,
      engine: {},
    });
    const env = { runner, router, rows: opts.rows, clients: opts.clients, out, rollout };

    out('');
    out(`run 1: ${healthyMigration.name} (rename + retype + NOT NULL), steps ${STEPS.join('% → ')}%, gate ${GATE}`);
    const ledger1 = new Ledger(demoShape, opts.rows);
    const healthy = await canaryRun(env, { migration: healthyMigration, shape: demoShape, ledger: ledger1, keyOffset: 0, verifyAs: 'new' });

    out('');
    out(`run 2: ${failingMigration.name} (a CHECK the new version's application violates), same steps and gate, --on-fail rollback`);
    const failing = await canaryRun(env, { migration: failingMigration, shape: failingShape, ledger: carryOver(ledger1, opts.rows), keyOffset: 1_000_000_000, verifyAs: 'old' });
    await runner.end();

    const errors: string[] = [];
    if (healthy.outcome !== 'passed') errors.push(`run 1 should have passed: ${healthy.failure?.detail}`);
    if (failing.outcome !== 'gate-failed' || !failing.failure?.rolledBack) errors.push('run 2 should have failed its gate and been rolled back');
    for (const r of [healthy, failing]) {
      if (r.lostWrites > 0) errors.push(`${r.migration}: ${r.lostWrites} acknowledged writes missing or wrong`);
      if (r.app.old.failed > 0) errors.push(`${r.migration}: ${r.app.old.failed} transactions of the old version failed`);
    }
    if (healthy.app.new.failed > 0) errors.push(`${healthy.migration}: ${healthy.app.new.failed} transactions of the healthy new version failed`);
    const summary: CanaryDemoSummary = {
      server: serverLabel,
      rows: opts.rows,
      clients: opts.clients,
      gate: GATE,
      healthy,
      failing,
      ok: errors.length === 0,
      errors,
      totalSeconds: secs(Date.now() - t0),
    };
    printSummary(out, summary);
    return summary;
  } finally {
    await router?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await db.close();
  }
}

interface RunEnv {
  runner: pg.Client;
  router: VersionRouter;
  rows: number;
  clients: number;
  out: (s: string) => void;
  rollout: () => Omit<RolloutRunOptions, 'onEvent'>;
}

interface RunSpec {
  migration: { name: string; operations: unknown[] };
  shape: TrafficShape;
  ledger: Ledger;
  keyOffset: number;
  /** The shape the table must have at the end: the new one after complete, the old one after rollback. */
  verifyAs: 'old' | 'new';
}

/** Traffic on, start, rollout run (and complete if it passed), traffic off, the table read back against the ledger. */
async function canaryRun(env: RunEnv, spec: RunSpec): Promise<CanaryRunSummary> {
  const t0 = Date.now();
  const newVersion = versionSchemaOf(spec.migration);
  const traffic: CanaryTraffic = startCanaryTraffic({
    router: env.router,
    shape: spec.shape,
    ledger: spec.ledger,
    newVersion,
    clients: env.clients,
    seedRows: env.rows,
    thinkMs: 1,
    insertKeyOffset: spec.keyOffset,
  });
  let result: RolloutRunResult;
  const steps: CanaryRunSummary['steps'] = [];
  try {
    env.out(`  start: expand and backfill under traffic (every key on the old version, 0%)…`);
    await start(env.runner, parseMigration(spec.migration, undefined), {});
    await env.router.refresh();
    let last: HealthFacts | undefined;
    result = await runRollout(env.runner, {
      ...env.rollout(),
      onEvent: (e) => {
        if (e.type === 'check') last = e.health;
        if (e.type === 'step' && e.previousPercent > 0 && last) recordStep(env, steps, e.previousPercent, last);
        if (e.type === 'failed') {
          if (last) recordStep(env, steps, e.percent, last);
          env.out(`  gate ${e.failure.gate} FAILED at ${e.percent}%: ${e.failure.detail}`);
        }
        if (e.type === 'routed-back') env.out(`  routed 0% to the new version: every key is back on the old version`);
        if (e.type === 'rolled-back') env.out(`  migration rolled back`);
      },
    });
    if (result.outcome === 'passed') {
      if (last) recordStep(env, steps, result.percent, last);
      env.out('  every step passed: complete');
      await complete(env.runner, {});
    }
    // A moment on the final routing, so that the summary shows traffic after it.
    await new Promise((res) => setTimeout(res, 500));
  } finally {
    await traffic.stop();
  }
  await env.router.flushHealth();
  const verify = await verifyTable(env.runner, 'users', spec.verifyAs === 'new' ? spec.shape.newColumns : spec.shape.oldColumns, spec.ledger, spec.verifyAs);
  const lost = verify.wrong + verify.missing + verify.unexpected + traffic.counts.old.wrong + traffic.counts.new.wrong;
  env.out(
    `  ${fmt(spec.ledger.acknowledged)} acknowledged writes, ${fmt(verify.rows)} rows read back: ${fmt(lost)} missing or wrong; ` +
      `app: old ${fmt(traffic.counts.old.transactions)} transactions (${fmt(traffic.counts.old.failed)} failed), new ${fmt(traffic.counts.new.transactions)} (${fmt(traffic.counts.new.failed)} failed)`,
  );
  for (const s of verify.samples) env.out(`  lost: ${s}`);
  return {
    migration: spec.migration.name,
    outcome: result.outcome,
    steps,
    failure: result.failure ?? null,
    app: {
      old: { transactions: traffic.counts.old.transactions, failed: traffic.counts.old.failed },
      new: { transactions: traffic.counts.new.transactions, failed: traffic.counts.new.failed },
    },
    acknowledgedWrites: spec.ledger.acknowledged,
    lostWrites: lost,
    seconds: secs(Date.now() - t0),
  };
}

/** One line per step: the health its last check saw (the window of the step). */
function recordStep(env: RunEnv, steps: CanaryRunSummary['steps'], percent: number, h: HealthFacts): void {
  if (steps.some((s) => s.percent === percent)) return;
  steps.push({ percent, newErrorRate: errorRate(h.new), oldErrorRate: errorRate(h.old), newStatements: h.new.statements, oldStatements: h.old.statements });
  env.out(`  ${String(percent).padStart(3)}% on the new version: ${healthSummary(h)}`);
}

function printSummary(out: (s: string) => void, s: CanaryDemoSummary): void {
  const line = (r: CanaryRunSummary) =>
    r.outcome === 'passed'
      ? `passed ${r.steps.map((x) => `${x.percent}%`).join(' → ')}, completed`
      : `gate ${r.failure?.gate} failed at ${r.failure?.atPercent}%, routed back to 0%${r.failure?.rolledBack ? ', rolled back' : ''}`;
  out('');
  out('Tandem canary demo summary');
  out(`  server        ${s.server}`);
  out(`  traffic       ${s.clients} clients, every transaction routed by key (versionRouter), ${fmt(s.rows)} rows`);
  out(`  run 1         ${s.healthy.migration}: ${line(s.healthy)} (${s.healthy.seconds} s)`);
  out(`  run 2         ${s.failing.migration}: ${line(s.failing)} (${s.failing.seconds} s)`);
  out(`  writes        ${fmt(s.healthy.acknowledgedWrites + s.failing.acknowledgedWrites)} acknowledged, ${fmt(s.healthy.lostWrites + s.failing.lostWrites)} missing or wrong`);
  out(`  total         ${s.totalSeconds} s`);
  for (const e of s.errors) out(`  error: ${e}`);
}

/** `tandem demo --canary`: the summary (one JSON document with --json), exit 1 unless the demo's verdict is ok. */
export async function canaryDemoCommand(
  cmd: { rows: number; clients: number },
  rowsDefaulted: boolean,
  g: { databaseUrl?: string | undefined; json?: boolean | undefined },
): Promise<void> {
  const summary = await runCanaryDemo({ rows: rowsDefaulted ? 100_000 : cmd.rows, clients: cmd.clients, databaseUrl: g.databaseUrl, json: g.json === true });
  if (g.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (!summary.ok) process.exitCode = 1;
}
