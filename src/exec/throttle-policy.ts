/**
 * The backfill throttle's decisions, pure: from what was observed (the last batch, the recent
 * ones, the pressure signals, the operator's controls) to the next pacing. No I/O, no clock: the
 * same observations always give the same pacing (unit-tested in test/unit/throttle-policy.test.ts).
 *
 * - Sizing: the batch size moves toward the size that would take `targetBatchMs`, estimated from
 *   the median time per row of the recent batches, by at most ×GROWTH up or ×SHRINK down per
 *   batch, within [minBatchSize, maxBatchSize]. A size set by the operator is used as it is.
 * - Backing off: any pressure signal (sessions waiting on locks on the table, the batch's own
 *   statement much slower than its recent median, a replica lagging, the user's check) raises
 *   the back-off level by one: the batch size halves and the delay doubles (from BACKOFF_BASE_MS
 *   up to MAX_BACKOFF_DELAY_MS). Each batch without pressure lowers the level by one, so the
 *   backfill recovers as quickly as it backed off, one step at a time.
 */

export interface BatchPacing {
  batchSize: number;
  delayMs: number;
}

export interface ThrottleConfig {
  targetBatchMs: number;
  minBatchSize: number;
  maxBatchSize: number;
  /** Delay between batches with no pressure (--batch-delay, or the operator's `set --delay`). */
  baseDelayMs: number;
  /** The operator's `set --batch-size`: used as the batch size while there is no pressure. */
  pinnedBatchSize?: number;
}

export interface BatchSample {
  rows: number;
  durationMs: number;
}

/** What the throttle saw since the last decision. */
export interface Observations {
  /** The batch that just ran (none before the first). */
  last?: BatchSample;
  /** Recent batches before `last` (oldest first), for the median time per row. */
  recent: readonly BatchSample[];
  /** Sessions waiting on a lock on the table (or on a row of it), at the last poll. */
  lockWaiters: number;
  /** Largest replay lag of a replica in ms, when checked and visible. */
  replicaLagMs?: number;
  maxReplicaLagMs?: number;
  /** The user's --throttle-sql / --throttle-url said to slow down. */
  userCheckSlow?: 'throttle-sql' | 'throttle-url';
}

export interface PacingState extends BatchPacing {
  /** 0 = no back-off; each level halves the size and doubles the delay. */
  backoffLevel: number;
  /** Why the last decision backed off (human text), or null. */
  reason: string | null;
}

export const GROWTH = 1.5;
export const SHRINK = 0.5;
export const BACKOFF_BASE_MS = 50;
export const MAX_BACKOFF_DELAY_MS = 5_000;
export const MAX_BACKOFF_LEVEL = 7;
/** The batch's time per row this many times its recent median counts as client latency rising. */
export const LATENCY_RATIO = 3;
/** Recent batches needed before the latency signal is trusted. */
export const MIN_SAMPLES_FOR_LATENCY = 5;

export function initialPacing(cfg: ThrottleConfig, startSize: number): PacingState {
  const batchSize = cfg.pinnedBatchSize ?? clamp(Math.round(startSize), cfg.minBatchSize, cfg.maxBatchSize);
  return { batchSize, delayMs: cfg.baseDelayMs, backoffLevel: 0, reason: null };
}

/** Why to slow down now, if at all (the first signal that applies). */
export function pressureReason(obs: Observations): string | null {
  if (obs.lockWaiters > 0) return `lock waits: ${obs.lockWaiters} session${obs.lockWaiters === 1 ? '' : 's'} waiting on locks on the table`;
  if (obs.maxReplicaLagMs !== undefined && obs.replicaLagMs !== undefined && obs.replicaLagMs > obs.maxReplicaLagMs) {
    return `replica lag ${Math.round(obs.replicaLagMs)} ms > ${obs.maxReplicaLagMs} ms`;
  }
  if (obs.userCheckSlow) return `${obs.userCheckSlow} asked to slow down`;
  const latency = latencyRatio(obs);
  if (latency !== undefined && latency >= LATENCY_RATIO) return `latency: the last batch took ${latency.toFixed(1)}× its recent median per row`;
  return null;
}

/**
 * How much slower the last batch was than the recent ones; undefined with too few samples. Per
 * row when it was at least as large as their median (a batch's fixed cost weighs less, not more);
 * in total time when it was smaller (a smaller batch that takes longer is slower in any case; per
 * row it would look slower only because the fixed cost is spread over fewer rows, e.g. after a
 * back-off halved the size).
 */
export function latencyRatio(obs: Observations): number | undefined {
  if (!obs.last || obs.last.rows === 0 || obs.recent.length < MIN_SAMPLES_FOR_LATENCY) return undefined;
  const medianRows = median(obs.recent.map((s) => s.rows));
  if (obs.last.rows < medianRows) {
    const medianMs = median(obs.recent.map((s) => s.durationMs));
    return medianMs > 0 ? obs.last.durationMs / medianMs : undefined;
  }
  const perRow = medianMsPerRow(obs.recent);
  if (perRow === undefined || perRow <= 0) return undefined;
  return obs.last.durationMs / obs.last.rows / perRow;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function medianMsPerRow(samples: readonly BatchSample[]): number | undefined {
  const perRow = samples.filter((s) => s.rows > 0).map((s) => s.durationMs / s.rows);
  return perRow.length === 0 ? undefined : median(perRow);
}

/** The pacing of the next batch. */
export function nextPacing(prev: PacingState, obs: Observations, cfg: ThrottleConfig): PacingState {
  const reason = pressureReason(obs);
  if (reason !== null) {
    const level = Math.min(MAX_BACKOFF_LEVEL, prev.backoffLevel + 1);
    const batchSize = clamp(Math.floor(prev.batchSize * SHRINK), cfg.minBatchSize, cfg.maxBatchSize);
    return { batchSize: cfg.pinnedBatchSize !== undefined ? Math.min(batchSize, cfg.pinnedBatchSize) : batchSize, delayMs: backoffDelay(level, cfg), backoffLevel: level, reason };
  }
  const level = Math.max(0, prev.backoffLevel - 1);
  const batchSize = cfg.pinnedBatchSize ?? sizeTowardTarget(prev.batchSize, obs, cfg);
  return { batchSize, delayMs: backoffDelay(level, cfg), backoffLevel: level, reason: null };
}

function backoffDelay(level: number, cfg: ThrottleConfig): number {
  if (level === 0) return cfg.baseDelayMs;
  return Math.max(cfg.baseDelayMs, Math.min(MAX_BACKOFF_DELAY_MS, BACKOFF_BASE_MS * 2 ** (level - 1)));
}

/** The size that would take the target, from the median time per row of the recent batches and the last one; bounded per step. */
export function sizeTowardTarget(current: number, obs: Observations, cfg: ThrottleConfig): number {
  const samples = obs.last ? [...obs.recent, obs.last] : [...obs.recent];
  const msPerRow = medianMsPerRow(samples.slice(-5));
  if (msPerRow === undefined) return clamp(current, cfg.minBatchSize, cfg.maxBatchSize);
  const ideal = msPerRow > 0 ? cfg.targetBatchMs / msPerRow : cfg.maxBatchSize;
  const bounded = clamp(ideal, current * SHRINK, current * GROWTH);
  return clamp(Math.round(bounded), cfg.minBatchSize, cfg.maxBatchSize);
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
