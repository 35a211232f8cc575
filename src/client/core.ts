/**
 * The driver-agnostic routing core every client adapter builds on (node-postgres here; postgres.js,
 * Kysely, Drizzle, OpenFeature elsewhere): the rollout state kept current by a watcher, sticky
 * per-key routing over it, version selectors, change events, and per-version health. An adapter
 * adds only how to run a transaction on a version with its driver (`beginSql(version)` gives the
 * statement that starts one) and reports each outcome with `recordOutcome`.
 */
import type pg from 'pg';
import { HealthRecorder } from './health.js';
import { resolveVersion, type RolloutState, sideForKey, type VersionSelector, versionForKey } from './rollout-state.js';
import type { Side } from './routing.js';
import type { SqlRunner } from './sql-runner.js';
import { beginStatements, useVersionSql, type VersionStatement } from './version-sql.js';
import { type RolloutWatcher, watchRollout } from './watcher.js';

export interface RoutingCoreOptions {
  /** Target schema (default `public`). */
  schema?: string;
  /** Runs the state reads and the health flushes (one statement each). */
  run: SqlRunner;
  /**
   * Where to LISTEN for changes: a URL straight to PostgreSQL. Behind PgBouncer in transaction
   * mode LISTEN does not work through the pooler: pass the server's own URL here, or `listen: false`
   * (changes are then learnt by polling, within `pollIntervalMs`).
   */
  listenConnectionString?: string;
  /** pg connection config for LISTEN when no URL is given (versionRouter passes its pool's). */
  listenConnectionConfig?: pg.ClientConfig;
  listen?: boolean;
  /** Poll interval of the rollout state, ms (default 1000). */
  pollIntervalMs?: number;
  /** Per-version health written to tandem.version_health (default on, every 5 s); false to turn off. */
  health?: false | { flushIntervalMs?: number; instanceId?: string };
  /** Background failures (state unreachable, health flush failed); routing keeps its last known state. */
  onError?: (err: unknown) => void;
  /** How a transaction is put on its version: 'set-local' (default) or 'use-version' (tandem.use_version); same effect. */
  versionStatement?: VersionStatement;
}

export type ChangeListener = (state: RolloutState, previous: RolloutState) => void;

export interface RoutingCore {
  readonly schema: string;
  /** The version schema this key is routed to now. */
  versionFor(key: string): string;
  /** The side this key is routed to now (`new` also when no migration is in progress). */
  sideFor(key: string): Side;
  /** The version schema a selector names now: 'latest', 'previous' or a name. */
  resolve(version: VersionSelector): string;
  /** The last known rollout state. */
  state(): RolloutState;
  on(event: 'change', listener: ChangeListener): () => void;
  /** Count one statement or transaction on `version` (latency ms; the SQLSTATE if it failed). */
  recordOutcome(version: string, ms: number, sqlstate?: string | null): void;
  /** `BEGIN; SET LOCAL search_path …; SET LOCAL tandem.version …`: one round trip, transaction-local (PgBouncer-safe). */
  beginSql(version: string): string;
  /** The version statements alone, for drivers that send BEGIN themselves. */
  useVersionSql(version: string): string;
  /** Read the state now (else it follows notifications and polling). */
  refresh(): Promise<RolloutState>;
  /** Write the health counted so far now (never throws). */
  flushHealth(): Promise<void>;
  readonly health: HealthRecorder | undefined;
  readonly watcher: RolloutWatcher;
  /** Stop watching, flush health. */
  close(): Promise<void>;
}

export async function createRoutingCore(opts: RoutingCoreOptions): Promise<RoutingCore> {
  const schema = opts.schema ?? 'public';
  const listeners = new Set<ChangeListener>();
  const onError = (err: unknown) => {
    try {
      opts.onError?.(err);
    } catch {
      // never into the application
    }
  };
  const watcher = await watchRollout({
    schema,
    run: opts.run,
    ...(opts.listenConnectionString !== undefined ? { connectionString: opts.listenConnectionString } : {}),
    ...(opts.listenConnectionConfig !== undefined ? { connectionConfig: opts.listenConnectionConfig } : {}),
    ...(opts.listen !== undefined ? { listen: opts.listen } : {}),
    ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    onError,
    onChange: (state, previous) => {
      for (const l of listeners) {
        try {
          l(state, previous);
        } catch (err) {
          onError(err);
        }
      }
    },
  });
  const health =
    opts.health === false
      ? undefined
      : new HealthRecorder({
          run: opts.run,
          schema,
          onError,
          ...(opts.health?.flushIntervalMs !== undefined ? { flushIntervalMs: opts.health.flushIntervalMs } : {}),
          ...(opts.health?.instanceId !== undefined ? { instanceId: opts.health.instanceId } : {}),
        });
  return {
    schema,
    health,
    watcher,
    versionFor: (key) => versionForKey(watcher.current(), key),
    sideFor: (key) => sideForKey(watcher.current(), key),
    resolve: (version) => resolveVersion(watcher.current(), version),
    state: () => watcher.current(),
    on: (_event, listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    recordOutcome: (version, ms, sqlstate) => health?.record(version, ms, sqlstate),
    beginSql: beginStatements(opts.versionStatement),
    useVersionSql: (version) => useVersionSql(version, opts.versionStatement),
    refresh: () => watcher.refresh(),
    flushHealth: async () => health?.flush(),
    close: async () => {
      listeners.clear();
      await watcher.close();
      await health?.close();
    },
  };
}
