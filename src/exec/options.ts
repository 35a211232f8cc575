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
}

export const defaultExecOptions: ExecOptions = {
  lockTimeoutMs: 50,
  lockRetryForMs: 60_000,
  batchSize: 1000,
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
