import pg from 'pg';
import { type BlockingSession, formatBlockingSession } from '../errors.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** SQLSTATEs after which the whole transaction is safely retried. */
const RETRYABLE = new Set(['55P03', '40P01']); // lock_not_available, deadlock_detected

export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has((err as { code?: string } | null)?.code ?? '');
}

/** Exponential backoff with full jitter, capped: spreads retries so the queue behind us drains. */
export function backoffMs(attempt: number, baseMs = 25, capMs = 2_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export { sleep };

export interface LockRetryPolicy {
  /** Total time to keep retrying, from the first attempt; then `giveUp`. */
  retryForMs?: number;
  /** Or a number of attempts. With neither, retries go on forever. */
  maxAttempts?: number;
  /** After a retryable failure, before the backoff (e.g. to log or audit it). */
  onRetry?: (failure: LockFailure) => Promise<void> | void;
  /** The error to throw when the budget is spent; default: the last lock error itself. */
  giveUp?: (failure: LockFailure) => Promise<Error> | Error;
}

export interface LockFailure {
  attempt: number;
  /** Since the first attempt began. */
  waitedMs: number;
  err: unknown;
}

/**
 * Runs `attempt` (which must leave nothing half-done when it throws, e.g. by rolling back its
 * transaction) until it succeeds, retrying lock timeouts and deadlocks with backoff and jitter.
 * Any other error is thrown as it is.
 */
export async function retryOnLockConflict<T>(attempt: (n: number) => Promise<T>, policy: LockRetryPolicy = {}): Promise<T> {
  const began = performance.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!isRetryable(err)) throw err;
      const failure: LockFailure = { attempt: n, waitedMs: performance.now() - began, err };
      const spent = (policy.retryForMs !== undefined && failure.waitedMs >= policy.retryForMs) || (policy.maxAttempts !== undefined && n >= policy.maxAttempts);
      if (spent) throw policy.giveUp ? await policy.giveUp(failure) : err;
      await policy.onRetry?.(failure);
      const left = policy.retryForMs === undefined ? Infinity : Math.max(0, policy.retryForMs - (performance.now() - began));
      await sleep(Math.min(backoffMs(n), left));
    }
  }
}

/** A session that blocks a waiting statement; see BlockingSession. */
export type Blocker = BlockingSession;
export { formatBlockingSession as formatBlocker };

/**
 * The sessions that really block one of the runner's statements: `pg_blocking_pids()` of the
 * runner's backend, read from a side connection *while* the statement waits (it gives up after
 * lock_timeout, and afterwards nobody blocks it any more). Sessions that merely hold a
 * compatible lock on the same table (an application's RowExclusiveLock) are not blockers.
 *
 * Costs nothing on the happy path: the side connection is opened only after the first lock
 * timeout (`watchFrom`), then polls only during attempts, every 10 ms (pg_blocking_pids takes
 * the lock manager's locks briefly, so it is not called in a tighter loop).
 */
export class BlockerWatch {
  /** Per attempt (most recent last), the blockers of the last look that saw it waiting. */
  private readonly seen: Map<number, Blocker>[] = [];
  private current: Map<number, Blocker> | undefined;
  private polling: Promise<void> | undefined;
  private stopping = false;
  private broken = false;

  private constructor(
    private readonly side: pg.Client,
    private readonly runnerPid: number,
    private readonly pollEveryMs: number,
  ) {}

  /**
   * Opens the side connection (same settings as `runner`) and learns the runner's backend pid.
   * Returns undefined when either fails: the caller then reports without blockers.
   */
  static async watchFrom(runner: pg.Client, pollEveryMs = 10): Promise<BlockerWatch | undefined> {
    let side: pg.Client | undefined;
    try {
      const pid = (await runner.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      side = new pg.Client({ ...sameConnectionSettings(runner), application_name: 'tandem (lock watch)' });
      side.on('error', () => undefined);
      await side.connect();
      return new BlockerWatch(side, pid, pollEveryMs);
    } catch {
      await side?.end().catch(() => undefined);
      return undefined;
    }
  }

  /** Start polling for the attempt about to run. */
  beginAttempt(): void {
    if (this.broken) {
      this.current = undefined;
      return;
    }
    this.current = new Map();
    this.seen.push(this.current);
    if (this.seen.length > 8) this.seen.shift();
    this.stopping = false;
    this.polling = this.poll(this.current);
  }

  /** Stop polling; the blockers seen during this attempt. */
  async endAttempt(): Promise<Blocker[]> {
    this.stopping = true;
    await this.polling;
    this.polling = undefined;
    return [...(this.current?.values() ?? [])];
  }

  /** The union of the blockers seen during the last `attempts` attempts, longest transaction first. */
  blockers(attempts = 3): Blocker[] {
    const union = new Map<number, Blocker>();
    for (const attempt of this.seen.slice(-attempts)) for (const [pid, b] of attempt) union.set(pid, b);
    return [...union.values()].sort((a, b) => (b.transactionAgeS ?? -1) - (a.transactionAgeS ?? -1) || a.pid - b.pid);
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.polling;
    await this.side.end().catch(() => undefined);
  }

  private async poll(into: Map<number, Blocker>): Promise<void> {
    while (!this.stopping) {
      try {
        // Keep the last look that saw the statement waiting: a session still blocking it just
        // before lock_timeout is the cause, not one whose short write was finishing as it queued.
        const blockers = await this.sample();
        if (blockers.length) {
          into.clear();
          for (const b of blockers) into.set(b.pid, b);
        }
      } catch {
        this.broken = true; // the side connection died: report what was seen so far
        return;
      }
      if (!this.stopping) await sleep(this.pollEveryMs);
    }
  }

  /**
   * One look: empty unless the runner's backend is waiting for a heavyweight lock. Each blocker is
   * described in the same query, since a blocker may be gone by the time the statement gives up.
   */
  private async sample(): Promise<Blocker[]> {
    const r = await this.side.query<Blocker>(
      `WITH runner AS (
         SELECT pid FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'
       ), waited AS (
         SELECT l.locktype, l.database, l.relation FROM pg_locks l JOIN runner USING (pid) WHERE NOT l.granted LIMIT 1
       )
       SELECT a.pid, a.usename AS "user", a.application_name AS application, a.state,
              extract(epoch FROM now() - a.xact_start)::int AS "transactionAgeS", left(a.query, 120) AS query,
              (SELECT string_agg(DISTINCT l.mode, ', ') FROM pg_locks l, waited w
                WHERE l.pid = a.pid AND l.granted AND l.locktype = w.locktype
                  AND l.database IS NOT DISTINCT FROM w.database AND l.relation IS NOT DISTINCT FROM w.relation) AS modes,
              (SELECT w.relation::regclass::text FROM waited w WHERE w.relation IS NOT NULL) AS "waitedFor"
         FROM runner, unnest(pg_blocking_pids(runner.pid)) AS b(pid)
         JOIN pg_stat_activity a ON a.pid = b.pid`,
      [this.runnerPid],
    );
    return r.rows;
  }
}

/**
 * The connection settings of an open client, for a second connection to the same server as the
 * same user (node-postgres keeps them, the password included, on the client).
 */
export function sameConnectionSettings(client: pg.Client): pg.ClientConfig {
  const params = (client as unknown as { connectionParameters: Record<string, unknown> }).connectionParameters;
  const c = client as unknown as { user?: string; host?: string; port?: number; database?: string; password?: pg.ClientConfig['password'] };
  const config: pg.ClientConfig = {};
  if (c.user !== undefined) config.user = c.user;
  if (c.host !== undefined) config.host = c.host;
  if (c.port !== undefined) config.port = c.port;
  if (c.database !== undefined) config.database = c.database;
  if (c.password !== undefined && c.password !== null) config.password = c.password;
  if (params['ssl'] !== undefined && params['ssl'] !== false) config.ssl = params['ssl'] as pg.ClientConfig['ssl'];
  if (typeof params['options'] === 'string') config.options = params['options'];
  return config;
}
