/**
 * What every driver adapter shares (postgres.js, Kysely, Drizzle, Prisma): the routing core —
 * its own, or the one of an existing router so that one state watcher and one health recorder
 * serve the whole process — and the timing of a transaction on a version, counted into that
 * version's health exactly as versionRouter counts its own (one outcome per transaction, the
 * SQLSTATE of a failure, `other` for a failure without one).
 */
import { createRoutingCore, type RoutingCore, type RoutingCoreOptions } from '../core.js';
import { NON_SQL_ERROR } from '../health.js';
import type { VersionSelector } from '../rollout-state.js';
import { type SqlRunner, sqlstateOf } from '../sql-runner.js';
import { ident } from '../../sql/ident.js';
import { useVersionSql } from '../version-sql.js';

export interface AdapterOptions extends Omit<RoutingCoreOptions, 'run'> {
  /**
   * Share the routing of an existing router (`versionRouter(…)`, or another adapter's `core`)
   * instead of starting a watcher of its own; closing the adapter then leaves it running.
   */
  router?: RoutingCore | { readonly core: RoutingCore };
}

/** The keyed API of every adapter; `Tx` is the driver's own transaction object. */
export interface KeyedTransactions<Tx> {
  readonly core: RoutingCore;
  /** The version schema this key is routed to now. */
  versionFor(key: string): string;
  /** A transaction on the key's version (sticky hash); `version` tells code carrying both paths which one to take. */
  transaction<T>(key: string, fn: (tx: Tx, version: string) => Promise<T>): Promise<T>;
  /** A transaction on a fixed version: 'latest', 'previous' (resolved now) or a version schema's name. */
  transactionOn<T>(version: VersionSelector, fn: (tx: Tx, version: string) => Promise<T>): Promise<T>;
  /** Stops the routing core if this adapter started it (the driver's connections stay the caller's). */
  close(): Promise<void>;
}

export interface OwnedCore {
  core: RoutingCore;
  close(): Promise<void>;
}

/** The routing core an adapter works with: the router's it was given, else its own over `run`. */
export async function adapterCore(opts: AdapterOptions, run: SqlRunner): Promise<OwnedCore> {
  const { router, ...coreOptions } = opts;
  if (router) {
    const core = 'core' in router ? router.core : router;
    return { core, close: async () => undefined };
  }
  const core = await createRoutingCore({ ...coreOptions, run });
  return { core, close: () => core.close() };
}

/**
 * The SQLSTATE of a failure, looking through wrappers (Drizzle's DrizzleQueryError keeps the
 * driver's error as `cause`; Prisma's errors carry it in `meta`), else `other`.
 */
export function failureCode(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const code = prismaErrorCode(e) ?? sqlstateOf(e);
    if (code) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return NON_SQL_ERROR;
}

/**
 * Prisma's errors have a code of their own (P2039…, five characters too, so it must not pass for
 * a SQLSTATE); with a driver adapter the database's SQLSTATE is in meta.driverAdapterError.cause.
 */
function prismaErrorCode(e: object): string | undefined {
  if (typeof (e as { clientVersion?: unknown }).clientVersion !== 'string') return undefined;
  const cause = (e as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; code?: unknown } } } }).meta?.driverAdapterError?.cause;
  return sqlstateOf({ code: cause?.originalCode }) ?? sqlstateOf({ code: cause?.code }) ?? NON_SQL_ERROR;
}

/**
 * The one statement that puts the driver's transaction (its BEGIN already sent) on `version`:
 * `SELECT tandem.use_version('…')`, a single statement, so that drivers sending it with the
 * extended protocol (postgres.js, Prisma) can; transaction-local, so PgBouncer-safe. Without a
 * state schema (nothing ever migrated here) there is no such function, and the version is the
 * schema itself: SET LOCAL search_path.
 */
export function useVersionStatement(core: RoutingCore, version: string): string {
  return core.state().installed ? useVersionSql(version, 'use-version') : `SET LOCAL search_path TO ${ident(version)}`;
}

/** Runs `work` (a whole transaction on `version`) and counts its outcome into the version's health. */
export async function timedOnVersion<T>(core: RoutingCore, version: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await work();
    core.recordOutcome(version, performance.now() - started);
    return result;
  } catch (err) {
    core.recordOutcome(version, performance.now() - started, failureCode(err));
    throw err;
  }
}

/** The keyed API over one "run a transaction on this version" function of a driver. */
export function keyedTransactions<Tx>(owned: OwnedCore, onVersion: <T>(version: string, fn: (tx: Tx, version: string) => Promise<T>) => Promise<T>): KeyedTransactions<Tx> {
  const { core } = owned;
  return {
    core,
    versionFor: (key) => core.versionFor(key),
    transaction: (key, fn) => {
      const version = core.versionFor(key);
      return timedOnVersion(core, version, () => onVersion(version, fn));
    },
    transactionOn: (selector, fn) => {
      const version = core.resolve(selector);
      return timedOnVersion(core, version, () => onVersion(version, fn));
    },
    close: () => owned.close(),
  };
}
