/** Knobs of the executor, with the defaults the CLI shows. */
export interface ExecOptions {
  /**
   * lock_timeout of every DDL statement. While an ALTER waits for its lock, every later query on
   * the table queues behind it, so this is the longest stall Tandem can add to an application
   * query (plus the few milliseconds the DDL itself holds the lock). 50 ms keeps that under ~100 ms.
   */
  lockTimeoutMs: number;
  /** Total time one step keeps retrying on lock timeouts before it gives up cleanly. */
  lockRetryForMs: number;
  /** Rows per backfill batch; each batch is its own short transaction. */
  batchSize: number;
  /** Pause between backfill batches, to leave room for application traffic. */
  batchDelayMs: number;
  /** Backfill throttle (src/exec/backfill-throttle.ts): batch duration the adaptive batch size aims at (default 100). */
  targetBatchMs?: number;
  /** Throttle: back off while a replica's replay_lag (pg_stat_replication) exceeds this many ms; unset = not checked. */
  maxReplicaLagMs?: number;
  /** Throttle: a query returning one boolean, checked at most once a second; true = slow down. */
  throttleSql?: string;
  /** Throttle: an http(s) URL fetched at most once a second; a non-2xx answer (or none) = slow down. */
  throttleUrl?: string;
  /** Backfill workers of this process, each on its own connection, over slices of the key (default 1). */
  workers?: number;
  /** VACUUM the table every this many % of its rows backfilled (0 = never; default 10); see src/exec/backfill-vacuum.ts. */
  vacuumBehindPercent?: number;
}

export const defaultExecOptions: ExecOptions = {
  lockTimeoutMs: 50,
  lockRetryForMs: 60_000,
  batchSize: 5000,
  batchDelayMs: 0,
};

export interface Reporter {
  step(phase: string, description: string): void;
  info(message: string): void;
  warn(message: string): void;
  backfillProgress(table: string, done: number, estimated: number, finished: boolean): void;
}

export const silentReporter: Reporter = {
  step: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  backfillProgress: () => undefined,
};
