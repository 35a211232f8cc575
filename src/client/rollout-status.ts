/**
 * The facts `tandem rollout status` shows and health gates decide on: the rollout state and each
 * version's health over the last `windowSeconds`, side by side. Driver-agnostic (a SqlRunner).
 */
import { readHealthRows, summarizeHealth, type VersionHealthSummary } from './health-report.js';
import { readRolloutState, rolloutInProgress, type RolloutState } from './rollout-state.js';
import type { SqlRunner } from './sql-runner.js';

export interface VersionHealthWithSide extends VersionHealthSummary {
  /** Which side of the rollout this version is: old, new, or another version (pinned instances of an older one…). */
  side: 'old' | 'new' | 'other';
}

export interface RolloutStatus {
  schema: string;
  inProgress: boolean;
  migration: string | null;
  migrationId: string | null;
  oldVersion: string | null;
  newVersion: string;
  /** Share of keys routed to the new version (100 with no migration in progress: every key gets the latest). */
  percent: number;
  managed: boolean;
  /** Whether `tandem complete` runs without --force. */
  completeAllowed: boolean;
  updatedAt: string | null;
  windowSeconds: number;
  health: VersionHealthWithSide[];
}

export async function rolloutStatus(run: SqlRunner, schema: string, windowSeconds = 60): Promise<RolloutStatus> {
  const state = await readRolloutState(run, schema);
  const rows = state.installed ? await readHealthRows(run, schema, windowSeconds) : [];
  return buildRolloutStatus(
    state,
    summarizeHealth(
      rows,
      sidesOf(state).map((s) => s.version),
    ),
    windowSeconds,
  );
}

function sidesOf(state: RolloutState): { version: string; side: 'old' | 'new' }[] {
  return rolloutInProgress(state)
    ? [
        { version: state.oldVersion!, side: 'old' },
        { version: state.newVersion, side: 'new' },
      ]
    : [{ version: state.newVersion, side: 'new' }];
}

/** Pure: the status document from the state and the health summaries. */
export function buildRolloutStatus(state: RolloutState, health: VersionHealthSummary[], windowSeconds: number): RolloutStatus {
  const inProgress = rolloutInProgress(state);
  const sideOf = new Map(sidesOf(state).map((s) => [s.version, s.side]));
  return {
    schema: state.schema,
    inProgress,
    migration: state.migrationName,
    migrationId: state.migrationId,
    oldVersion: state.oldVersion,
    newVersion: state.newVersion,
    percent: inProgress ? state.percent : 100,
    managed: state.managed,
    completeAllowed: !inProgress || !state.managed || state.percent >= 100,
    updatedAt: state.updatedAt ? state.updatedAt.toISOString() : null,
    windowSeconds,
    health: health.map((h) => ({ ...h, side: sideOf.get(h.version) ?? 'other' })),
  };
}
