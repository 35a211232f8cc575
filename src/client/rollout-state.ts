/**
 * The rollout state every application instance reads: one row of `tandem.rollouts` per target
 * schema (src/state/ddl-rollout.ts). Pure helpers over it (which version a key or a selector
 * gets) and the one read of it.
 */
import { routeKey, type Side } from './routing.js';
import { type SqlRunner, sqlstateOf } from './sql-runner.js';
import { RolloutStateUnreadableError } from './errors.js';

export interface RolloutState {
  /** The target schema (`public`). */
  schema: string;
  /** The migration in progress (tandem.migrations id), or null: then every key gets `newVersion`. */
  migrationId: string | null;
  migrationName: string | null;
  /** The old version's schema while a migration is in progress: the previous version schema, or the schema itself (its tables). */
  oldVersion: string | null;
  /** The latest version: the new one while a migration is in progress, else the current one. */
  newVersion: string;
  /** Share of keys routed to the new version, 0 … 100 (0 when a migration starts). */
  percent: number;
  /** Whether `tandem rollout set` has run for this migration: then `complete` needs 100% (or --force). */
  managed: boolean;
  /** Per-migration salt of the sticky hash. */
  salt: string;
  updatedAt: Date | null;
  /** Whether the state schema exists (else no migration ever ran here, and versions are set with SET LOCAL). */
  installed: boolean;
}

/** Which version to use: the latest, the previous one (the old version while a migration is in progress), or a version schema by name. */
export type VersionSelector = 'latest' | 'previous' | (string & {});

/** The state with no migration in progress: every key gets `latest`. */
export function noRollout(schema: string, latest: string = schema, installed = false): RolloutState {
  return { schema, migrationId: null, migrationName: null, oldVersion: null, newVersion: latest, percent: 100, managed: false, salt: '', updatedAt: null, installed };
}

export function rolloutInProgress(state: RolloutState): boolean {
  return state.migrationId !== null && state.oldVersion !== null;
}

/** The side a key is routed to now (`new` when no migration is in progress). */
export function sideForKey(state: RolloutState, key: string): Side {
  return rolloutInProgress(state) ? routeKey(key, state.percent, state.salt) : 'new';
}

/** The version schema a key is routed to now. */
export function versionForKey(state: RolloutState, key: string): string {
  return sideForKey(state, key) === 'new' ? state.newVersion : state.oldVersion!;
}

/** The version schema a selector names now ('previous' is the latest when no migration is in progress). */
export function resolveVersion(state: RolloutState, version: VersionSelector): string {
  if (version === 'latest') return state.newVersion;
  if (version === 'previous') return state.oldVersion ?? state.newVersion;
  return version;
}

/** Whether two states route every key the same way (what a change notification is about). */
export function sameRouting(a: RolloutState, b: RolloutState): boolean {
  return (
    a.migrationId === b.migrationId &&
    a.oldVersion === b.oldVersion &&
    a.newVersion === b.newVersion &&
    a.percent === b.percent &&
    a.salt === b.salt &&
    a.managed === b.managed &&
    a.installed === b.installed
  );
}

/** SQLSTATEs meaning the state schema or its table does not exist: undefined_table, invalid_schema_name. */
const NOT_INSTALLED = new Set(['42P01', '3F000']);

const READ_SQL = `SELECT migration_id::text AS migration_id, migration_name, old_version, new_version, percent::float8 AS percent,
        managed, salt, updated_at
   FROM tandem.rollouts WHERE schema_name = $1`;

/**
 * Read the schema's rollout state. No state schema: nothing ever ran, every key gets the schema
 * itself. No row (an install whose last migration predates rollouts): the latest completed
 * version schema, when the role may read tandem.migrations, else the schema itself.
 * Throws RolloutStateUnreadableError when the role may not read tandem.rollouts (grant-client).
 */
export async function readRolloutState(run: SqlRunner, schema: string): Promise<RolloutState> {
  let rows: Record<string, unknown>[];
  try {
    rows = await run(READ_SQL, [schema]);
  } catch (err) {
    const state = sqlstateOf(err);
    if (state !== undefined && NOT_INSTALLED.has(state)) return noRollout(schema);
    if (state === '42501') throw new RolloutStateUnreadableError(schema, err);
    throw err;
  }
  const row = rows[0];
  if (!row) return noRollout(schema, await latestCompleted(run, schema), true);
  return {
    schema,
    migrationId: (row['migration_id'] as string | null) ?? null,
    migrationName: (row['migration_name'] as string | null) ?? null,
    oldVersion: (row['old_version'] as string | null) ?? null,
    newVersion: row['new_version'] as string,
    percent: Number(row['percent']),
    managed: row['managed'] === true,
    salt: row['salt'] as string,
    updatedAt: toDate(row['updated_at']),
    installed: true,
  };
}

function toDate(value: unknown): Date | null {
  if (value instanceof Date) return value;
  return typeof value === 'string' ? new Date(value) : null;
}

async function latestCompleted(run: SqlRunner, schema: string): Promise<string> {
  try {
    const rows = await run(
      `SELECT m.version_schema FROM tandem.migrations m
        WHERE m.schema_name = $1 AND m.phase = 'completed' AND EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = m.version_schema)
        ORDER BY m.completed_at DESC, m.id DESC LIMIT 1`,
      [schema],
    );
    return (rows[0]?.['version_schema'] as string | undefined) ?? schema;
  } catch {
    return schema;
  }
}
