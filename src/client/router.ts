/**
 * versionRouter: node-postgres routing of transactions to the old or the new version schema by a
 * sticky hash of a key, following the rollout state in the database.
 *
 *   const router = await versionRouter({ pool, schema: 'public' });
 *   await router.transaction(userId, async (client, version) => { … });
 *
 * Each transaction begins with `BEGIN; SET LOCAL search_path …; SET LOCAL tandem.version …` (what
 * tandem.use_version does; one round trip, transaction-local, so it is safe behind PgBouncer in
 * transaction mode) and keeps its version to the end, whatever the rollout does meanwhile.
 */
import type pg from 'pg';
import { type ChangeListener, createRoutingCore, type RoutingCore, type RoutingCoreOptions } from './core.js';
import { transactionOnVersion } from './pg-transaction.js';
import type { RolloutState, VersionSelector } from './rollout-state.js';
import type { Side } from './routing.js';
import { pgRunner } from './sql-runner.js';

export interface VersionRouterOptions extends Omit<RoutingCoreOptions, 'run' | 'listenConnectionConfig'> {
  /** The application's pool (through PgBouncer is fine; LISTEN then needs `listenConnectionString` or falls back to polling). */
  pool: pg.Pool;
}

/** Work on one version, fixed: the pinned side of a router, or a pinnedPool in transaction mode. */
export interface VersionHandle {
  readonly version: string;
  transaction<T>(fn: (client: pg.PoolClient, version: string) => Promise<T>): Promise<T>;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface VersionRouter {
  readonly schema: string;
  /** The version schema this key is routed to now. */
  versionFor(key: string): string;
  sideFor(key: string): Side;
  /** A transaction on the key's version; `version` tells code that carries both paths which one to take. */
  transaction<T>(key: string, fn: (client: pg.PoolClient, version: string) => Promise<T>): Promise<T>;
  /** One statement, in a transaction on the key's version. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(key: string, text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /**
   * Work on a fixed version ('latest' and 'previous' resolved now): for code that only knows one
   * version. Set per transaction, so also behind PgBouncer in transaction mode.
   */
  pin(version: VersionSelector): VersionHandle;
  state(): RolloutState;
  on(event: 'change', listener: ChangeListener): () => void;
  /** Count an outcome on a version (for adapters and for work run outside `transaction`). */
  recordOutcome(version: string, ms: number, sqlstate?: string | null): void;
  refresh(): Promise<RolloutState>;
  flushHealth(): Promise<void>;
  /** The routing core (for adapters). */
  readonly core: RoutingCore;
  /** Stop watching the state and flush health; the pool is the caller's and stays open. */
  close(): Promise<void>;
}

export async function versionRouter(opts: VersionRouterOptions): Promise<VersionRouter> {
  const { pool, ...rest } = opts;
  const core = await createRoutingCore({ ...rest, run: pgRunner(pool), listenConnectionConfig: pool.options as pg.ClientConfig });
  const record = core.recordOutcome;
  const onVersion = <T>(version: string, fn: (client: pg.PoolClient, version: string) => Promise<T>): Promise<T> =>
    transactionOnVersion({ pool, version, beginSql: core.beginSql(version), record }, fn);
  const queryOn = <R extends pg.QueryResultRow>(version: string, text: string, params?: unknown[]) => onVersion(version, (c) => c.query<R>(text, params));
  const handle = (version: string): VersionHandle => ({
    version,
    transaction: (fn) => onVersion(version, fn),
    query: (text, params) => queryOn(version, text, params),
  });
  return {
    schema: core.schema,
    core,
    versionFor: core.versionFor,
    sideFor: core.sideFor,
    transaction: (key, fn) => onVersion(core.versionFor(key), fn),
    query: (key, text, params) => queryOn(core.versionFor(key), text, params),
    pin: (version) => handle(core.resolve(version)),
    state: core.state,
    on: core.on,
    recordOutcome: core.recordOutcome,
    refresh: core.refresh,
    flushHealth: core.flushHealth,
    close: core.close,
  };
}
