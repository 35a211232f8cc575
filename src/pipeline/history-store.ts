import type pg from 'pg';
import { type MigrationPhase, stateSchemaReady } from '../state/store.js';

/** One row of tandem.migrations as the pipeline verbs see it (no stored plan). */
export interface HistoryEntry {
  id: string;
  name: string;
  phase: MigrationPhase;
  versionSchema: string;
  /** The file it was applied from (name in its directory), null when applied without a file. */
  fileName: string | null;
  /** sha256 of that file's bytes, null when not known. */
  fileChecksum: string | null;
  /** sha256 of the migration document (lifecycle.ts `checksum`). */
  checksum: string;
  baseline: boolean;
  /** The stored migration document (`{ name, version_schema?, operations }`). */
  migration: unknown;
  createdBy: string;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  rolledBackAt: Date | null;
}

/** Applied (or being applied): every phase but rolled_back. */
export function isLive(e: HistoryEntry): boolean {
  return e.phase !== 'rolled_back';
}

export function isInProgress(e: HistoryEntry): boolean {
  return e.phase !== 'completed' && e.phase !== 'rolled_back';
}

/**
 * Whether the columns of ddl-history.ts exist: a state schema made by an older tandem lacks them
 * until a runner upgrades it, and reading its history must not fail (nor upgrade it: reads change nothing).
 */
async function hasHistoryColumns(client: pg.Client): Promise<boolean> {
  const r = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_attribute
      WHERE attrelid = 'tandem.migrations'::regclass AND attname IN ('file_name', 'file_checksum', 'baseline') AND NOT attisdropped`,
  );
  return r.rows[0]!.n === 3;
}

/** The schema's migrations, oldest first; none when the state schema does not exist (nothing is created). */
export async function readHistory(client: pg.Client, schema: string): Promise<HistoryEntry[]> {
  if (!(await stateSchemaReady(client))) return [];
  const fileColumns = (await hasHistoryColumns(client)) ? 'file_name, file_checksum, baseline' : 'NULL::text AS file_name, NULL::text AS file_checksum, false AS baseline';
  const r = await client.query<{
    id: string;
    name: string;
    phase: MigrationPhase;
    version_schema: string;
    file_name: string | null;
    file_checksum: string | null;
    checksum: string;
    baseline: boolean;
    migration: unknown;
    created_by: string;
    created_at: Date;
    started_at: Date | null;
    completed_at: Date | null;
    rolled_back_at: Date | null;
  }>(
    `SELECT id, name, phase, version_schema, ${fileColumns}, checksum, migration, created_by, created_at, started_at, completed_at, rolled_back_at
       FROM tandem.migrations WHERE schema_name = $1 ORDER BY id`,
    [schema],
  );
  return r.rows.map((x) => ({
    id: x.id,
    name: x.name,
    phase: x.phase,
    versionSchema: x.version_schema,
    fileName: x.file_name,
    fileChecksum: x.file_checksum,
    checksum: x.checksum,
    baseline: x.baseline,
    migration: x.migration,
    createdBy: x.created_by,
    createdAt: x.created_at,
    startedAt: x.started_at,
    completedAt: x.completed_at,
    rolledBackAt: x.rolled_back_at,
  }));
}
