import type pg from 'pg';
import { sleep } from './lock-retry.js';
import { defaultExecOptions, type ExecOptions, type Reporter } from './options.js';
import { type Controls, type PacingRecord, poll, type PollResult, type PollSpec, urlSaysSlow } from './throttle-probes.js';
import { type BatchPacing, type BatchSample, initialPacing, nextPacing, type PacingState, type ThrottleConfig } from './throttle-policy.js';
import { emitEvent } from '../observe/events.js';

export type { BatchPacing } from './throttle-policy.js';

/**
 * The backfill's throttle, called around every batch by each backfill worker (one per table and
 * slice):
 *
 *     const throttle = await openBackfillThrottle({ client, migrationId, table, slice, options, reporter });
 *     try {
 *       for (;;) {
 *         const { batchSize } = await throttle.beforeBatch(); // waits while paused, and for the delay
 *         const t0 = performance.now();
 *         const rows = await runOneBatch(batchSize);          // its own short transaction
 *         throttle.afterBatch({ rows, durationMs: performance.now() - t0 });
 *         if (rows === 0) break;
 *       }
 *     } finally { await throttle.close(); }
 *
 * - `beforeBatch` must be called with no transaction open on `client` (it runs its own
 *   statements there, autocommit): while paused it holds no transaction and no lock, polling the
 *   controls once a second (sooner on NOTIFY). It also waits until `delayMs` has passed since the
 *   end of the last batch, so a caller that sleeps `delayMs` itself does not wait twice.
 * - It makes at most one round trip a second to the database (the poll: record the live pacing,
 *   read the controls, the lock waiters, the replica lag and the user's --throttle-sql).
 * - `afterBatch` is synchronous and does no I/O: it feeds the pure policy (throttle-policy.ts).
 */
export interface BackfillThrottle {
  beforeBatch(): Promise<BatchPacing>;
  afterBatch(r: { rows: number; durationMs: number }): void;
  close(): Promise<void>;
  /** What the throttle does now (for reporters and tests). */
  readonly pacing: Readonly<PacingState> & { rowsPerSecond: number; paused: boolean };
}

export interface OpenThrottleArgs {
  /** Not needed today: every statement runs on `client` between batches. */
  url?: string;
  client: pg.Client;
  migrationId: number | string;
  /** Schema of the table; default 'public'. */
  schema?: string;
  table: string;
  slice: number;
  options: ExecOptions;
  /** Where "paused…" / "resumed" / warnings go; default: stderr. */
  reporter?: Pick<Reporter, 'info' | 'warn'>;
}

export const DEFAULT_TARGET_BATCH_MS = 100;
export const MIN_BATCH_SIZE = 10;
export const MAX_BATCH_SIZE = 100_000;
const POLL_INTERVAL_MS = 1_000;
const RECENT_SAMPLES = 20;
const RATE_WINDOW_MS = 10_000;
export const CONTROL_CHANNEL = 'tandem_backfill_control';

export async function openBackfillThrottle(args: OpenThrottleArgs): Promise<BackfillThrottle> {
  const t = new Throttle(args);
  await t.open();
  return t;
}

const stderrReporter = {
  info: (m: string) => process.stderr.write(`${m}\n`),
  warn: (m: string) => process.stderr.write(`warning: ${m}\n`),
};

class Throttle implements BackfillThrottle {
  private readonly client: pg.Client;
  private readonly migrationId: string;
  private readonly spec: PollSpec;
  private readonly reporter: Pick<Reporter, 'info' | 'warn'>;
  private readonly label: string;
  private controls: Controls = { paused: false, batchSize: null, delayMs: null, targetBatchMs: null, updatedBy: null };
  private state: PacingState;
  private readonly samples: BatchSample[] = [];
  private readonly window: { at: number; rows: number }[] = [];
  private rowsDone = 0;
  private lastPollAt = -Infinity;
  private lastBatchEndAt = -Infinity;
  private lastBatchMs: number | null = null;
  private lockWaiters = 0;
  private replicaLagMs: number | undefined;
  private userSlow: 'throttle-sql' | 'throttle-url' | undefined;
  private pausedNow = false;
  private warned = new Set<string>();
  private wake: (() => void) | undefined;
  private listening = false;
  private readonly onNotification = (msg: pg.Notification) => {
    if (msg.channel !== CONTROL_CHANNEL || (msg.payload && msg.payload !== this.migrationId)) return;
    this.lastPollAt = -Infinity; // poll at the next chance
    this.wake?.();
  };

  constructor(private readonly args: OpenThrottleArgs) {
    this.client = args.client;
    this.migrationId = String(args.migrationId);
    this.spec = {
      schema: args.schema ?? 'public',
      table: args.table,
      checkReplicas: args.options.maxReplicaLagMs !== undefined,
      throttleSql: args.options.throttleSql ?? null,
    };
    this.reporter = args.reporter ?? stderrReporter;
    this.label = `backfill ${args.table}${args.slice > 0 ? ` (slice ${args.slice})` : ''}`;
    this.state = initialPacing(this.config(), args.options.batchSize);
  }

  get pacing() {
    return { ...this.state, rowsPerSecond: this.rate(), paused: this.pausedNow };
  }

  async open(): Promise<void> {
    try {
      this.client.on('notification', this.onNotification);
      await this.client.query(`LISTEN ${CONTROL_CHANNEL}`);
      this.listening = true;
    } catch {
      this.client.off('notification', this.onNotification); // polling alone still works
    }
    await this.pollNow();
    this.state = initialPacing(this.config(), this.controls.batchSize ?? this.args.options.batchSize);
  }

  private config(): ThrottleConfig {
    const o = this.args.options;
    const c = this.controls;
    return {
      targetBatchMs: c.targetBatchMs ?? o.targetBatchMs ?? DEFAULT_TARGET_BATCH_MS,
      minBatchSize: Math.min(MIN_BATCH_SIZE, Math.max(1, o.batchSize)),
      // Without a target asked for, --batch-size stays the largest batch (the backfill caps it so
      // too, src/exec/backfill.ts): the throttle then only shrinks batches when it backs off.
      maxBatchSize: o.targetBatchMs === undefined && c.targetBatchMs === null ? Math.max(1, o.batchSize) : Math.max(MAX_BATCH_SIZE, o.batchSize),
      baseDelayMs: c.delayMs ?? o.batchDelayMs ?? defaultExecOptions.batchDelayMs,
      ...(c.batchSize !== null ? { pinnedBatchSize: c.batchSize } : {}),
    };
  }

  async beforeBatch(): Promise<BatchPacing> {
    if (performance.now() - this.lastPollAt >= POLL_INTERVAL_MS) await this.pollNow();
    if (this.controls.paused) await this.waitWhilePaused();
    const wait = this.lastBatchEndAt + this.state.delayMs - performance.now();
    if (wait > 0) await sleep(wait);
    return { batchSize: this.state.batchSize, delayMs: this.state.delayMs };
  }

  afterBatch(r: { rows: number; durationMs: number }): void {
    const now = performance.now();
    const sample = { rows: Math.max(0, r.rows), durationMs: Math.max(0, r.durationMs) };
    // One event per batch, with the pacing it ran at (logs, the runner's batch-duration histogram).
    emitEvent({
      type: 'backfill-batch',
      migrationId: this.migrationId,
      table: this.args.table,
      slice: this.args.slice,
      rows: sample.rows,
      durationMs: sample.durationMs,
      batchSize: this.state.batchSize,
      delayMs: this.state.delayMs,
    });
    this.state = nextPacing(
      this.state,
      {
        last: sample,
        recent: this.samples,
        lockWaiters: this.lockWaiters,
        ...(this.replicaLagMs !== undefined ? { replicaLagMs: this.replicaLagMs } : {}),
        ...(this.args.options.maxReplicaLagMs !== undefined ? { maxReplicaLagMs: this.args.options.maxReplicaLagMs } : {}),
        ...(this.userSlow ? { userCheckSlow: this.userSlow } : {}),
      },
      this.config(),
    );
    this.samples.push(sample);
    if (this.samples.length > RECENT_SAMPLES) this.samples.shift();
    this.rowsDone += sample.rows;
    this.lastBatchMs = sample.durationMs;
    this.lastBatchEndAt = now;
    this.window.push({ at: now, rows: sample.rows });
    while (this.window.length > 1 && now - this.window[0]!.at > RATE_WINDOW_MS) this.window.shift();
  }

  async close(): Promise<void> {
    this.wake?.();
    await poll(this.client, this.migrationId, { ...this.spec, throttleSql: null, checkReplicas: false }, this.record(true)).catch(() => undefined);
    if (this.listening) await this.client.query(`UNLISTEN ${CONTROL_CHANNEL}`).catch(() => undefined);
    this.client.off('notification', this.onNotification);
  }

  /** Rows per second over the last ten seconds of batches (delays and pauses included). */
  private rate(): number {
    if (this.window.length < 2) return 0;
    const first = this.window[0]!;
    const last = this.window[this.window.length - 1]!;
    const elapsed = last.at - first.at;
    const rows = this.window.slice(1).reduce((n, w) => n + w.rows, 0);
    return elapsed > 0 ? (rows * 1000) / elapsed : 0;
  }

  private record(finished = false): PacingRecord {
    return {
      migrationId: this.migrationId,
      table: this.args.table,
      slice: this.args.slice,
      batchSize: this.state.batchSize,
      delayMs: this.state.delayMs,
      rowsPerSecond: this.pausedNow || finished ? 0 : this.rate(),
      lastBatchMs: this.lastBatchMs,
      rowsDone: this.rowsDone,
      paused: this.pausedNow,
      reason: this.state.reason,
      finished,
    };
  }

  private async pollNow(): Promise<void> {
    this.lastPollAt = performance.now();
    const urlCheck = this.args.options.throttleUrl ? urlSaysSlow(this.args.options.throttleUrl) : undefined;
    const result = await this.pollWithFallback();
    if (result) this.take(result);
    if (urlCheck) {
      const u = await urlCheck;
      if (u.slow) this.userSlow ??= 'throttle-url';
      if (u.problem && !u.problem.startsWith('answered')) this.warnOnce('throttle-url', `--throttle-url could not be fetched (${u.problem}): slowing down until it answers`);
    }
  }

  /** A failing --throttle-sql counts as "slow down" (and is said once); the rest is polled without it. */
  private async pollWithFallback(): Promise<PollResult | undefined> {
    try {
      return await poll(this.client, this.migrationId, this.spec, this.record());
    } catch (err) {
      // A lost connection is the worker's failure, not the throttle's: the batch would fail next.
      if (!isServerError(err)) throw err;
      if (this.spec.throttleSql === null) {
        this.warnOnce('poll', `${this.label}: could not read the backfill controls (${(err as Error).message}); going on with the last known settings`);
        return undefined;
      }
      this.warnOnce('throttle-sql', `--throttle-sql failed (${(err as Error).message}): slowing down until it works`);
      const rest = await poll(this.client, this.migrationId, { ...this.spec, throttleSql: null }, this.record()).catch(() => undefined);
      return rest ? { ...rest, userSlow: true } : undefined;
    }
  }

  private take(r: PollResult): void {
    const pinnedBefore = this.controls.batchSize;
    this.controls = r.controls;
    if (r.controls.batchSize !== null && r.controls.batchSize !== pinnedBefore) this.state = { ...this.state, batchSize: r.controls.batchSize };
    if (r.controls.delayMs !== null && this.state.backoffLevel === 0) this.state = { ...this.state, delayMs: r.controls.delayMs };
    // The signals hold until the next poll: every batch until then backs off one more level.
    this.lockWaiters = r.lockWaiters;
    this.userSlow = r.userSlow ? 'throttle-sql' : undefined;
    this.replicaLagMs = undefined;
    if (r.replicas) {
      if (r.replicas.count > 0 && r.replicas.visible === 0) {
        this.warnOnce(
          'replicas',
          `--max-replica-lag: pg_stat_replication shows ${r.replicas.count} replica(s) but not their lag to this role (grant it pg_monitor or pg_read_all_stats); replica lag is not checked`,
        );
      } else if (r.replicas.lagMs !== null) this.replicaLagMs = Number(r.replicas.lagMs);
    }
  }

  /** Paused: no transaction, no lock; the controls are read once a second, or when NOTIFY says they changed. */
  private async waitWhilePaused(): Promise<void> {
    this.pausedNow = true;
    this.reporter.info(
      `${this.label}: paused${this.controls.updatedBy ? ` by ${this.controls.updatedBy}` : ''}; waiting for \`tandem backfill resume\` (no transaction or lock is held meanwhile)`,
    );
    try {
      while (this.controls.paused) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_INTERVAL_MS);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
        await this.pollNow();
      }
    } finally {
      this.pausedNow = false;
    }
    this.reporter.info(`${this.label}: resumed`);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.reporter.warn(message);
  }
}

/** An error the server sent (it has a SQLSTATE): the connection is still usable. */
function isServerError(err: unknown): boolean {
  return /^[0-9A-Z]{5}$/.test((err as { code?: unknown } | null)?.code?.toString() ?? '');
}
