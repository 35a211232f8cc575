/**
 * tandem/client: the application side of a rollout.
 *
 *   import { versionRouter } from 'tandem/client';
 *   const router = await versionRouter({ pool, schema: 'public' });
 *   await router.transaction(userId, async (client, version) => { … });
 *
 * The node-postgres router and pinned pool, and the driver-agnostic core adapters build on:
 * sticky routing, the rollout state and its watcher, per-version health. See docs/client.md.
 */
export { versionRouter } from './router.js';
export type { VersionRouter, VersionRouterOptions, VersionHandle } from './router.js';
export { pinnedPool } from './pinned.js';
export type { PinnedPool, PinnedPoolOptions, PinMode } from './pinned.js';

// The driver-agnostic core.
export { createRoutingCore } from './core.js';
export type { RoutingCore, RoutingCoreOptions, ChangeListener } from './core.js';
export { routeKey, keyBucket, newBuckets, ROUTING_BUCKETS } from './routing.js';
export type { Side } from './routing.js';
export { readRolloutState, noRollout, rolloutInProgress, sideForKey, versionForKey, resolveVersion, sameRouting } from './rollout-state.js';
export type { RolloutState, VersionSelector } from './rollout-state.js';
export { watchRollout, ROLLOUT_CHANNEL } from './watcher.js';
export type { WatchRolloutOptions, RolloutWatcher } from './watcher.js';
export { HealthRecorder, NON_SQL_ERROR } from './health.js';
export type { HealthRecorderOptions, VersionHealth } from './health.js';
export { LATENCY_BOUNDS_MS, LATENCY_BUCKETS, latencyBucket, histogramPercentile } from './latency-histogram.js';
export { beginOnVersionSql, useVersionSql, pinSessionSql } from './version-sql.js';
export { pgRunner, sqlstateOf } from './sql-runner.js';
export type { SqlRunner, PgQueryable } from './sql-runner.js';
export { RolloutStateUnreadableError } from './errors.js';
export { readHealthRows, summarizeHealth } from './health-report.js';
export type { HealthRow, VersionHealthSummary } from './health-report.js';
export { rolloutStatus, buildRolloutStatus } from './rollout-status.js';
export type { RolloutStatus, VersionHealthWithSide } from './rollout-status.js';
