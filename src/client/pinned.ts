/**
 * pinnedPool: every connection of a pool on one fixed version, for instances that deploy one
 * version (the new code only knows the new version). 'latest' / 'previous' are resolved once,
 * when the pinned pool is made, from the rollout state.
 *
 * Two modes:
 *  - 'search_path' (default): each physical connection gets `SET search_path` (and tandem.version)
 *    once, the first time it is checked out. Give it a pool of its own: the setting stays on the
 *    connection. NOT for PgBouncer in transaction mode, where consecutive transactions of one
 *    client connection run on different server connections.
 *  - 'transaction': every transaction begins with its version's SET LOCALs (the same round trip as
 *    BEGIN; see version-sql.ts), so nothing is left on a server connection: the mode for PgBouncer in
 *    transaction mode. `connect()` is not offered there (a bare connection would have no version).
 */
import type pg from 'pg';
import { HealthRecorder, NON_SQL_ERROR } from './health.js';
import { transactionOnVersion } from './pg-transaction.js';
import { readRolloutState, resolveVersion, type VersionSelector } from './rollout-state.js';
import type { VersionHandle } from './router.js';
import { pgRunner, sqlstateOf } from './sql-runner.js';
import { beginOnVersionSql, pinSessionSql, type VersionStatement } from './version-sql.js';

export type PinMode = 'search_path' | 'transaction';

export interface PinnedPoolOptions {
  pool: pg.Pool;
  /** Target schema (default `public`), to resolve 'latest' / 'previous'. */
  schema?: string;
  version: VersionSelector;
  mode?: PinMode;
  /** Per-version health (default on, flushed every 5 s); false to turn off. */
  health?: false | { flushIntervalMs?: number; instanceId?: string };
  onError?: (err: unknown) => void;
  /** 'transaction' mode: how each transaction is put on the version (see version-sql.ts). */
  versionStatement?: VersionStatement;
}

export interface PinnedPool extends VersionHandle {
  readonly mode: PinMode;
  /** A client of the pool on the version ('search_path' mode only); release it as usual. */
  connect(): Promise<pg.PoolClient>;
  /** Flush health; the pool stays open (it is the caller's). */
  close(): Promise<void>;
}

export async function pinnedPool(opts: PinnedPoolOptions): Promise<PinnedPool> {
  const schema = opts.schema ?? 'public';
  const run = pgRunner(opts.pool);
  const state = await readRolloutState(run, schema);
  const version = resolveVersion(state, opts.version);
  const mode = opts.mode ?? 'search_path';
  const health =
    opts.health === false
      ? undefined
      : new HealthRecorder({
          run,
          schema,
          ...(opts.onError ? { onError: opts.onError } : {}),
          ...(opts.health?.flushIntervalMs !== undefined ? { flushIntervalMs: opts.health.flushIntervalMs } : {}),
          ...(opts.health?.instanceId !== undefined ? { instanceId: opts.health.instanceId } : {}),
        });
  const record = (v: string, ms: number, sqlstate?: string) => health?.record(v, ms, sqlstate);
  return mode === 'transaction'
    ? perTransaction(opts.pool, beginOnVersionSql(version, opts.versionStatement), version, record, health)
    : perSession(opts.pool, version, record, health);
}

type RecordOutcome = (version: string, ms: number, sqlstate?: string) => void;

function perTransaction(pool: pg.Pool, beginSql: string, version: string, record: RecordOutcome, health: HealthRecorder | undefined): PinnedPool {
  const onVersion = <T>(fn: (client: pg.PoolClient, version: string) => Promise<T>) => transactionOnVersion({ pool, version, beginSql, record }, fn);
  return {
    version,
    mode: 'transaction',
    transaction: onVersion,
    query: <R extends pg.QueryResultRow>(text: string, params?: unknown[]) => onVersion((c) => c.query<R>(text, params)),
    connect: () => Promise.reject(new TypeError("pinnedPool: connect() is not available in 'transaction' mode; use transaction() or query()")),
    close: async () => health?.close(),
  };
}

function perSession(pool: pg.Pool, version: string, record: RecordOutcome, health: HealthRecorder | undefined): PinnedPool {
  // The physical connections already set to the version (pg.Pool hands out the same objects again).
  const pinned = new WeakSet<pg.PoolClient>();
  const connect = async (): Promise<pg.PoolClient> => {
    const client = await pool.connect();
    if (!pinned.has(client)) {
      try {
        await client.query(pinSessionSql(version));
      } catch (err) {
        client.release(err instanceof Error ? err : true);
        throw err;
      }
      pinned.add(client);
    }
    return client;
  };
  const timed = async <T>(fn: (client: pg.PoolClient) => Promise<T>, inTransaction: boolean): Promise<T> => {
    const started = performance.now();
    let client: pg.PoolClient | undefined;
    let broken: Error | undefined;
    try {
      client = await connect();
      if (inTransaction) await client.query('BEGIN');
      const result = await fn(client);
      if (inTransaction) await client.query('COMMIT');
      record(version, performance.now() - started);
      return result;
    } catch (err) {
      record(version, performance.now() - started, sqlstateOf(err) ?? NON_SQL_ERROR);
      if (inTransaction && client) await client.query('ROLLBACK').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      throw err;
    } finally {
      client?.release(broken);
    }
  };
  return {
    version,
    mode: 'search_path',
    connect,
    transaction: (fn) => timed((c) => fn(c, version), true),
    query: <R extends pg.QueryResultRow>(text: string, params?: unknown[]) => timed((c) => c.query<R>(text, params), false),
    close: async () => health?.close(),
  };
}
