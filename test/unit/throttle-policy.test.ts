/** The backfill throttle's pure decisions (src/exec/throttle-policy.ts) and the ETA arithmetic; no database. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setChange } from '../../src/cli/backfill-command.js';
import { etaSeconds } from '../../src/exec/throttle-control.js';
import { formatDuration } from '../../src/exec/throttle-format.js';
import {
  BACKOFF_BASE_MS,
  GROWTH,
  initialPacing,
  MAX_BACKOFF_DELAY_MS,
  nextPacing,
  type Observations,
  type PacingState,
  pressureReason,
  SHRINK,
  type ThrottleConfig,
} from '../../src/exec/throttle-policy.js';

const cfg: ThrottleConfig = { targetBatchMs: 100, minBatchSize: 10, maxBatchSize: 100_000, baseDelayMs: 0 };
const calm = (last: { rows: number; durationMs: number }, recent: Observations['recent'] = []): Observations => ({ last, recent, lockWaiters: 0 });

test('starts from --batch-size, within the bounds; a pinned size wins', () => {
  assert.equal(initialPacing(cfg, 1000).batchSize, 1000);
  assert.equal(initialPacing(cfg, 1).batchSize, 10);
  assert.equal(initialPacing(cfg, 10_000_000).batchSize, 100_000);
  assert.equal(initialPacing({ ...cfg, pinnedBatchSize: 3 }, 1000).batchSize, 3);
});

test('a fast batch grows the size by at most ×GROWTH per step, a slow one shrinks it by at most ×SHRINK', () => {
  const start = initialPacing(cfg, 1000);
  // 1000 rows in 10 ms: the target would be 10 000 rows, growth is bounded.
  assert.equal(nextPacing(start, calm({ rows: 1000, durationMs: 10 }), cfg).batchSize, 1000 * GROWTH);
  // 1000 rows in 1000 ms: the target would be 100 rows, shrink is bounded.
  assert.equal(nextPacing(start, calm({ rows: 1000, durationMs: 1000 }), cfg).batchSize, 1000 * SHRINK);
  // 1000 rows in 125 ms: 800 rows would take the target; within the bounds, taken as is.
  assert.equal(nextPacing(start, calm({ rows: 1000, durationMs: 125 }), cfg).batchSize, 800);
});

test('converges on the size that takes the target duration', () => {
  let p = initialPacing(cfg, 100);
  const recent: { rows: number; durationMs: number }[] = [];
  for (let i = 0; i < 30; i++) {
    const last = { rows: p.batchSize, durationMs: 2 + p.batchSize * 0.05 }; // 0.05 ms a row + 2 ms overhead
    p = nextPacing(p, calm(last, recent.slice(-20)), cfg);
    recent.push(last);
  }
  const took = 2 + p.batchSize * 0.05;
  assert.ok(Math.abs(took - 100) < 10, `a batch of ${p.batchSize} rows takes ${took} ms`);
  assert.equal(p.reason, null);
});

test('never leaves the bounds', () => {
  let p = initialPacing(cfg, 1000);
  for (let i = 0; i < 50; i++) p = nextPacing(p, calm({ rows: p.batchSize, durationMs: 0.001 }), cfg);
  assert.equal(p.batchSize, cfg.maxBatchSize);
  for (let i = 0; i < 50; i++) p = nextPacing(p, calm({ rows: p.batchSize, durationMs: 1e9 }), cfg);
  assert.equal(p.batchSize, cfg.minBatchSize);
});

test('lock waiters, replica lag and the user check each back off: size halves, delay doubles, the reason says why', () => {
  const start: PacingState = { batchSize: 1000, delayMs: 0, backoffLevel: 0, reason: null };
  const last = { rows: 1000, durationMs: 100 };
  const locks = nextPacing(start, { last, recent: [], lockWaiters: 3 }, cfg);
  assert.deepEqual([locks.batchSize, locks.delayMs, locks.backoffLevel], [500, BACKOFF_BASE_MS, 1]);
  assert.match(locks.reason!, /lock waits: 3 sessions/);
  const again = nextPacing(locks, { last, recent: [], lockWaiters: 1 }, cfg);
  assert.deepEqual([again.batchSize, again.delayMs], [250, BACKOFF_BASE_MS * 2]);

  const lag = nextPacing(start, { last, recent: [], lockWaiters: 0, replicaLagMs: 1500, maxReplicaLagMs: 1000 }, cfg);
  assert.match(lag.reason!, /replica lag 1500 ms > 1000 ms/);
  assert.equal(nextPacing(start, { last, recent: [], lockWaiters: 0, replicaLagMs: 900, maxReplicaLagMs: 1000 }, cfg).reason, null);
  assert.match(nextPacing(start, { last, recent: [], lockWaiters: 0, userCheckSlow: 'throttle-url' }, cfg).reason!, /throttle-url/);
});

test('the delay is bounded; without pressure the back-off unwinds one level per batch', () => {
  let p: PacingState = { batchSize: 1000, delayMs: 0, backoffLevel: 0, reason: null };
  const last = { rows: 100, durationMs: 10 };
  for (let i = 0; i < 20; i++) p = nextPacing(p, { last, recent: [], lockWaiters: 1 }, cfg);
  assert.ok(p.delayMs <= MAX_BACKOFF_DELAY_MS && p.delayMs > 0);
  const levels: number[] = [];
  while (p.backoffLevel > 0) {
    p = nextPacing(p, calm(last), cfg);
    levels.push(p.backoffLevel);
  }
  assert.deepEqual(
    levels,
    levels.map((_, i) => levels[0]! - i),
  );
  assert.equal(p.delayMs, 0);
  assert.equal(p.reason, null);
});

test('the batch statement much slower per row than its recent median counts as latency', () => {
  const recent = Array.from({ length: 10 }, () => ({ rows: 1000, durationMs: 50 }));
  assert.equal(pressureReason({ last: { rows: 1000, durationMs: 60 }, recent, lockWaiters: 0 }), null);
  assert.match(pressureReason({ last: { rows: 1000, durationMs: 400 }, recent, lockWaiters: 0 })!, /latency/);
  // Too few samples to tell: no latency signal.
  assert.equal(pressureReason({ last: { rows: 1000, durationMs: 400 }, recent: recent.slice(0, 2), lockWaiters: 0 }), null);
});

test("an operator's pinned size is kept without pressure and shrinks under it; the base delay is the operator's", () => {
  const pinned = { ...cfg, pinnedBatchSize: 200, baseDelayMs: 30 };
  const p = initialPacing(pinned, 1000);
  const calmNext = nextPacing(p, calm({ rows: 200, durationMs: 1 }), pinned);
  assert.deepEqual([calmNext.batchSize, calmNext.delayMs], [200, 30]);
  const pressed = nextPacing(p, { last: { rows: 200, durationMs: 1 }, recent: [], lockWaiters: 2 }, pinned);
  assert.deepEqual([pressed.batchSize, pressed.delayMs], [100, BACKOFF_BASE_MS]);
});

test('ETA from the measured rate; none while paused or before a rate is measured', () => {
  assert.equal(etaSeconds({ done: false, paused: false, rowsDone: 100, estimatedTotal: 1100, rowsPerSecond: 50 }), 20);
  assert.equal(etaSeconds({ done: false, paused: true, rowsDone: 100, estimatedTotal: 1100, rowsPerSecond: 50 }), null);
  assert.equal(etaSeconds({ done: false, paused: false, rowsDone: 100, estimatedTotal: 1100, rowsPerSecond: 0 }), null);
  assert.equal(etaSeconds({ done: true, paused: false, rowsDone: 1100, estimatedTotal: 1100, rowsPerSecond: 0 }), 0);
  assert.equal(formatDuration(3725), '1h 02m');
  assert.equal(formatDuration(200), '3m 20s');
});

test('`backfill set`: nothing to set, a size below 1, or --batch-size with --adaptive is a usage error', () => {
  const none = { batchSize: undefined, delayMs: undefined, targetBatchMs: undefined, adaptive: false };
  assert.throws(
    () => setChange(none),
    (e: Error & { code?: string; exitCode?: number }) => e.code === 'usage' && e.exitCode === 2,
  );
  assert.throws(() => setChange({ ...none, batchSize: 0 }), /not a positive number/);
  assert.throws(() => setChange({ ...none, batchSize: 5, adaptive: true }), /give one of them/);
  assert.deepEqual(setChange({ ...none, batchSize: 5, delayMs: 10 }), { batchSize: 5, delayMs: 10 });
  assert.deepEqual(setChange({ ...none, targetBatchMs: 50 }), { targetBatchMs: 50, unpinBatchSize: true });
});

test('a batch made smaller by a back-off is judged by its total time, not per row', () => {
  const recent = Array.from({ length: 10 }, () => ({ rows: 1000, durationMs: 20 }));
  // Half the rows in the same 20 ms (fixed cost): not slower.
  assert.equal(pressureReason({ last: { rows: 500, durationMs: 20 }, recent, lockWaiters: 0 }), null);
  // Half the rows in 80 ms: slower.
  assert.match(pressureReason({ last: { rows: 500, durationMs: 80 }, recent, lockWaiters: 0 })!, /latency/);
});
