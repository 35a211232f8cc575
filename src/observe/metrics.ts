import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { onEvent } from './events.js';
import { RateTracker } from './rate.js';
import { backfillRateOf, type ObservedState } from './state-extras.js';

/**
 * Prometheus metrics of Tandem (documented in docs/metrics.md). The state metrics are read from
 * the database at scrape time (one snapshot per scrape, shared by every metric), so the runner's
 * `--metrics-port` and `tandem serve` show the same numbers; the runner adds what only it sees,
 * from the event bus (batch durations).
 */
export interface TandemMetrics {
  registry: Registry;
  stop(): void;
}

const migrationLabels = ['schema', 'migration'] as const;
const tableLabels = ['schema', 'migration', 'table'] as const;

export function createMetrics(opts: { snapshot: () => Promise<ObservedState>; fromEvents: boolean }): TandemMetrics {
  const registry = new Registry();
  const rates = new RateTracker();
  // prom-client collects every metric of a scrape concurrently: each one's collect awaits the same
  // fill, so one snapshot feeds them all and every value is set before any is read.
  let filling: Promise<void> | undefined;
  const collect = () => (filling ??= fill().finally(() => setTimeout(() => (filling = undefined), 250).unref()));

  const phase = new Gauge({
    name: 'tandem_migration_phase',
    help: 'Phase of each recent migration: 1 for its current phase',
    labelNames: [...migrationLabels, 'phase'],
    registers: [registry],
    collect,
  });
  const stepsDone = new Gauge({
    name: 'tandem_migration_steps_done',
    help: 'Steps recorded as done, per phase of the plan',
    labelNames: [...migrationLabels, 'phase'],
    registers: [registry],
    collect,
  });
  const stepsTotal = new Gauge({
    name: 'tandem_migration_steps_total',
    help: 'Steps in each phase of the plan',
    labelNames: [...migrationLabels, 'phase'],
    registers: [registry],
    collect,
  });
  const rowsDone = new Counter({
    name: 'tandem_backfill_rows_total',
    help: 'Rows the backfill has brought in sync (tandem.backfill_checkpoints.rows_done)',
    labelNames: tableLabels,
    registers: [registry],
    collect,
  });
  const rowsEstimated = new Gauge({
    name: 'tandem_backfill_rows_estimated',
    help: 'Rows the planner expected to backfill (table statistics)',
    labelNames: tableLabels,
    registers: [registry],
    collect,
  });
  const backfillDone = new Gauge({ name: 'tandem_backfill_done', help: '1 once the backfill of the table is done', labelNames: tableLabels, registers: [registry], collect });
  const rate = new Gauge({
    name: 'tandem_backfill_rate_rows_per_second',
    help: 'Backfill rate over the last 30 s of scrapes',
    labelNames: tableLabels,
    registers: [registry],
    collect,
  });
  const eta = new Gauge({
    name: 'tandem_backfill_eta_seconds',
    help: 'Seconds left at the current rate (absent until a rate is known)',
    labelNames: tableLabels,
    registers: [registry],
    collect,
  });
  const lockRetries = new Counter({
    name: 'tandem_lock_wait_retries_total',
    help: 'Lock-timeout retries recorded per step',
    labelNames: [...migrationLabels, 'step'],
    registers: [registry],
    collect,
  });
  const lockWaited = new Counter({
    name: 'tandem_lock_wait_seconds_total',
    help: 'Time spent in lock waits that timed out, per step',
    labelNames: [...migrationLabels, 'step'],
    registers: [registry],
    collect,
  });
  const waiting = new Gauge({ name: 'tandem_lock_waiting_sessions', help: 'Sessions of the database waiting for a lock now', registers: [registry], collect });
  const paused = new Gauge({
    name: 'tandem_backfill_paused',
    help: '1 while the backfill is paused (tandem backfill pause)',
    labelNames: migrationLabels,
    registers: [registry],
    collect,
  });
  const batchSize = new Gauge({
    name: 'tandem_backfill_batch_size',
    help: 'Current batch size of each backfill worker (slice)',
    labelNames: [...tableLabels, 'slice'],
    registers: [registry],
    collect,
  });
  const batchDelay = new Gauge({
    name: 'tandem_backfill_batch_delay_seconds',
    help: 'Current pause between batches of each backfill worker',
    labelNames: [...tableLabels, 'slice'],
    registers: [registry],
    collect,
  });
  const verifyRows = new Gauge({
    name: 'tandem_verify_rows_checked',
    help: 'Rows compared by the latest tandem verify run',
    labelNames: migrationLabels,
    registers: [registry],
    collect,
  });
  const verifyChunks = new Gauge({
    name: 'tandem_verify_chunks_checked',
    help: 'Chunks checksummed by the latest tandem verify run',
    labelNames: migrationLabels,
    registers: [registry],
    collect,
  });
  const verifyMismatches = new Gauge({
    name: 'tandem_verify_mismatches',
    help: 'Rows whose new columns differ from what up computes, in the latest verify run',
    labelNames: migrationLabels,
    registers: [registry],
    collect,
  });
  const verifyFinished = new Gauge({
    name: 'tandem_verify_finished',
    help: '1 when the latest verify run has checked every chunk',
    labelNames: migrationLabels,
    registers: [registry],
    collect,
  });
  const rolloutPercent = new Gauge({
    name: 'tandem_rollout_percent',
    help: 'Share of keys routed to the new version (0-100)',
    labelNames: migrationLabels,
    registers: [registry],
    collect,
  });
  const versionLabels = ['schema', 'version', 'side'] as const;
  const vStatements = new Gauge({
    name: 'tandem_version_statements_last_minute',
    help: 'Statements the clients ran on the version in the last 60 s',
    labelNames: versionLabels,
    registers: [registry],
    collect,
  });
  const vErrors = new Gauge({
    name: 'tandem_version_errors_last_minute',
    help: 'Failed statements on the version in the last 60 s, by SQLSTATE',
    labelNames: [...versionLabels, 'sqlstate'],
    registers: [registry],
    collect,
  });
  const vErrorRatio = new Gauge({
    name: 'tandem_version_error_ratio',
    help: 'Failed ÷ all statements on the version in the last 60 s',
    labelNames: versionLabels,
    registers: [registry],
    collect,
  });
  const vP50 = new Gauge({
    name: 'tandem_version_latency_p50_seconds',
    help: 'Median statement latency on the version in the last 60 s',
    labelNames: versionLabels,
    registers: [registry],
    collect,
  });
  const vP99 = new Gauge({
    name: 'tandem_version_latency_p99_seconds',
    help: '99th percentile statement latency on the version in the last 60 s',
    labelNames: versionLabels,
    registers: [registry],
    collect,
  });
  const initialized = new Gauge({ name: 'tandem_state_initialized', help: '1 when the tandem state schema exists', registers: [registry], collect });

  // Every state metric is refilled from the same snapshot at each scrape.
  async function fill(): Promise<void> {
    const s = await opts.snapshot();
    const all = [phase, stepsDone, stepsTotal, rowsDone, rowsEstimated, backfillDone, rate, eta, lockRetries, lockWaited, paused, batchSize, batchDelay];
    for (const m of [...all, verifyRows, verifyChunks, verifyMismatches, verifyFinished, rolloutPercent, vStatements, vErrors, vErrorRatio, vP50, vP99]) m.reset();
    initialized.set(s.initialized ? 1 : 0);
    waiting.set(s.lockWaits.length);
    for (const m of s.migrations) {
      const base = { schema: m.schema, migration: m.name };
      phase.set({ ...base, phase: m.phase }, 1);
      for (const p of ['start', 'complete', 'rollback'] as const) {
        stepsDone.set({ ...base, phase: p }, m.steps[p].done);
        stepsTotal.set({ ...base, phase: p }, m.steps[p].total);
      }
      for (const b of m.backfill) {
        const labels = { ...base, table: b.table };
        rowsDone.inc(labels, b.rowsDone);
        rowsEstimated.set(labels, b.estimatedRows);
        backfillDone.set(labels, b.done ? 1 : 0);
        // The rate the workers measure themselves, when they record it; else from successive scrapes.
        const { rate: r, eta: left } = backfillRateOf(s, m.id, b, rates);
        if (r !== undefined) rate.set(labels, r);
        if (left !== undefined) eta.set(labels, left);
        const live = s.extras.backfill[m.id]?.tables.find((t) => t.table === b.table);
        for (const slice of live?.slices ?? []) {
          if (slice.finished) continue;
          batchSize.set({ ...labels, slice: String(slice.slice) }, slice.batchSize);
          batchDelay.set({ ...labels, slice: String(slice.slice) }, slice.delayMs / 1000);
        }
      }
      const controls = s.extras.backfill[m.id]?.controls;
      if (controls) paused.set(base, controls.paused ? 1 : 0);
      const v = s.extras.verify[m.id];
      if (v) {
        verifyRows.set(base, v.rows);
        verifyChunks.set(base, v.chunks);
        verifyMismatches.set(base, v.mismatches);
        verifyFinished.set(base, v.finishedAt ? 1 : 0);
      }
      const rollout = s.extras.rollouts.find((x) => x.migrationId === m.id);
      if (rollout) rolloutPercent.set(base, rollout.percent);
      for (const l of m.lockRetries) {
        lockRetries.inc({ ...base, step: l.step }, l.retries);
        lockWaited.inc({ ...base, step: l.step }, l.waitedSeconds);
      }
    }
    for (const r of s.extras.rollouts) {
      for (const h of r.health) {
        const labels = { schema: r.schema, version: h.version, side: h.side };
        vStatements.set(labels, h.statements);
        vErrorRatio.set(labels, h.errorRate);
        vP50.set(labels, h.p50Ms / 1000);
        vP99.set(labels, h.p99Ms / 1000);
        for (const [sqlstate, n] of Object.entries(h.errorsBySqlstate)) vErrors.set({ ...labels, sqlstate }, n);
      }
    }
  }

  let stopEvents = () => undefined as void;
  if (opts.fromEvents) {
    const batch = new Histogram({
      name: 'tandem_backfill_batch_duration_seconds',
      help: 'Duration of each backfill batch (this runner only)',
      labelNames: ['table'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    const attempts = new Counter({ name: 'tandem_step_attempts_total', help: 'Step attempts of this runner, by outcome', labelNames: ['phase', 'outcome'], registers: [registry] });
    stopEvents = onEvent((e) => {
      if (e.type === 'backfill-batch') batch.observe({ table: e.table }, e.durationMs / 1000);
      if (e.type === 'step-attempt') attempts.inc({ phase: e.phase, outcome: e.outcome });
    });
  }
  return { registry, stop: () => stopEvents() };
}
