import type pg from 'pg';
import { versionSchemaName } from '../plan/names.js';
import type { DirectoryMigration } from './directory.js';
import { readHistory } from './history-store.js';

/** The version a newly deployed app should use. */
export interface LatestVersion {
  /** Its version schema; the schema itself when there is no migration yet (the app reads the tables). */
  versionSchema: string;
  migration: string | null;
  /** The migration's phase (`active` while the old version still runs beside it), null from files or with none. */
  phase: string | null;
}

/**
 * From the database: the migration in progress when its version schema is made (active or
 * completing), else the last completed one whose version schema still exists, else the schema.
 * A start that has not finished (phase starting) or a rollback under way has no usable new version.
 */
export async function latestVersion(client: pg.Client, schema: string): Promise<LatestVersion> {
  const history = await readHistory(client, schema);
  const current = history.find((e) => e.phase === 'active' || e.phase === 'completing');
  if (current) return { versionSchema: current.versionSchema, migration: current.name, phase: current.phase };
  const completed = history.filter((e) => e.phase === 'completed').sort((a, b) => (a.completedAt?.getTime() ?? 0) - (b.completedAt?.getTime() ?? 0) || Number(a.id) - Number(b.id));
  for (const e of completed.reverse()) {
    if (await schemaExists(client, e.versionSchema)) return { versionSchema: e.versionSchema, migration: e.name, phase: e.phase };
  }
  return { versionSchema: schema, migration: null, phase: null };
}

async function schemaExists(client: pg.Client, name: string): Promise<boolean> {
  const r = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [name]);
  return (r.rowCount ?? 0) > 0;
}

/** From the files alone: what `migrate` would leave, the last file's version schema (as the planner names it). */
export function latestFromDirectory(files: DirectoryMigration[], schema: string): LatestVersion {
  const last = files.at(-1);
  if (!last) return { versionSchema: schema, migration: null, phase: null };
  return { versionSchema: versionSchemaName(schema, last.migration.versionSchema ?? last.name), migration: last.name, phase: null };
}
