import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { onEvent } from './events.js';
import { etaSeconds, RateTracker } from './rate.js';
import type { StateSnapshot } from './state-snapshot.js';

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

export function createMetrics(opts: { snapshot: () => Promise<StateSnapshot>; fromEvents: boolean }): TandemMetrics {
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
  const initialized = new Gauge({ name: 'tandem_state_initialized', help: '1 when the tandem state schema exists', registers: [registry], collect });

  // Every state metric is refilled from the same snapshot at each scrape.
  async function fill(): Promise<void> {
    const s = await opts.snapshot();
    for (const m of [phase, stepsDone, stepsTotal, rowsDone, rowsEstimated, backfillDone, rate, eta, lockRetries, lockWaited]) m.reset();
    initialized.set(s.initialized ? 1 : 0);
    waiting.set(s.lockWaits.length);
    const now = Date.parse(s.takenAt);
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
        const r = b.done ? 0 : rates.observe(`${m.id}/${b.table}`, b.rowsDone, now);
        if (r !== undefined) rate.set(labels, r);
        // With no estimate (a table never analyzed) there is no ETA to give.
        const left = b.done ? 0 : b.estimatedRows > 0 ? etaSeconds(b.rowsDone, Math.max(b.estimatedRows, b.rowsDone), r) : undefined;
        if (left !== undefined) eta.set(labels, left);
      }
      for (const l of m.lockRetries) {
        lockRetries.inc({ ...base, step: l.step }, l.retries);
        lockWaited.inc({ ...base, step: l.step }, l.waitedSeconds);
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
