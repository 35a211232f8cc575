import type pg from 'pg';
import { removesNothing } from '../plan/complete-order.js';
import { parseStoredPlan } from '../plan/plan-schema.js';
import type { Plan, Phase } from '../plan/types.js';
import { literal } from '../sql/ident.js';
import { STATE_VERSION, stateSchemaDdl } from './schema-ddl.js';
import { emitEvent } from '../observe/events.js';

export type MigrationPhase = 'starting' | 'active' | 'completing' | 'completed' | 'rolling_back' | 'rolled_back';

export interface MigrationRow {
  id: string;
  schema_name: string;
  name: string;
  version_schema: string;
  previous_version_schema: string | null;
  phase: MigrationPhase;
  migration: unknown;
  checksum: string;
  plan: Plan;
  /** `code`: the error's stable code (src/errors.ts codeOf); `sqlstate`: PostgreSQL's, when there is one. */
  last_error: { phase: Phase; step: string; code?: string; message: string; sqlstate?: string } | null;
  created_by: string;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  rolled_back_at: Date | null;
}

type Db = pg.Client | pg.PoolClient;

/** SQLSTATEs of a concurrent creation of the same object: unique_violation, duplicate_schema, duplicate_table. */
const CONCURRENT_CREATION = new Set(['23505', '42P06', '42P07']);

/**
 * Create or upgrade the state schema. Serialised by an advisory lock that every tandem runner
 * takes, whatever its target schema (the runner lock is per schema). It is taken before the
 * transaction begins, so the transaction starts after any concurrent creation has committed and
 * sees it (a session that had already looked for the schema would otherwise risk going by what it
 * cached then). Should something create the same objects without that lock (an older tandem, a
 * hand-run script), the IF NOT EXISTS statements can still collide: the whole transaction is then
 * run again, a few times.
 */
export async function initStateSchema(client: Db): Promise<void> {
  await client.query(`SELECT pg_advisory_lock(hashtext('tandem:init'))`);
  try {
    for (let attempt = 1; ; attempt++) {
      await client.query('BEGIN');
      try {
        for (const sql of stateSchemaDdl) await client.query(sql);
        await client.query('COMMIT');
        return;
      } catch (err) {
        await client.query('ROLLBACK');
        if (!CONCURRENT_CREATION.has((err as { code?: string }).code ?? '') || attempt >= 5) throw err;
      }
    }
  } finally {
    await client.query(`SELECT pg_advisory_unlock(hashtext('tandem:init'))`).catch(() => undefined);
  }
}

/** Whether the state schema exists and has the shape this version needs (else initStateSchema upgrades it). */
export async function stateSchemaCurrent(client: Db): Promise<boolean> {
  if (!(await stateSchemaReady(client))) return false;
  const r = await client.query<{ ok: boolean }>(`SELECT coalesce((SELECT version >= $1 FROM tandem.state_version), false) AS ok`, [STATE_VERSION]);
  return r.rows[0]!.ok;
}

/** A stored plan is checked (and typed) as it is read back: nothing runs from a plan of another shape. */
function withCheckedPlan(row: MigrationRow): MigrationRow {
  return { ...row, plan: parseStoredPlan(row.plan, row) };
}

export async function stateSchemaReady(client: Db): Promise<boolean> {
  const r = await client.query(`SELECT to_regclass('tandem.state_version') IS NOT NULL AS ok`);
  return r.rows[0].ok as boolean;
}

export async function inProgress(client: Db, schema: string): Promise<MigrationRow | undefined> {
  const r = await client.query<MigrationRow>(`SELECT * FROM tandem.migrations WHERE schema_name = $1 AND phase NOT IN ('completed', 'rolled_back')`, [schema]);
  return r.rows[0] && withCheckedPlan(r.rows[0]);
}

/** The schema's migration of that name that was not rolled back, if any (plan not read: only its existence matters). */
export async function findByName(client: Db, schema: string, name: string): Promise<MigrationSummary | undefined> {
  const r = await client.query<MigrationSummary>(`SELECT ${SUMMARY_COLUMNS} FROM tandem.migrations WHERE schema_name = $1 AND name = $2 AND phase <> 'rolled_back'`, [
    schema,
    name,
  ]);
  return r.rows[0];
}

/** A migration row without its stored plan: what listing and finished-command checks need. */
export type MigrationSummary = Omit<MigrationRow, 'plan'>;

/** Every column of tandem.migrations but the plan (see MigrationSummary). */
const SUMMARY_COLUMNS = `id, schema_name, name, version_schema, previous_version_schema, phase, migration, checksum, last_error, created_by,
       created_at, started_at, completed_at, rolled_back_at`;

/** The most recent migration of the schema, whatever its phase. */
export async function latestMigration(client: Db, schema: string): Promise<MigrationSummary | undefined> {
  const r = await client.query<MigrationSummary>(`SELECT ${SUMMARY_COLUMNS} FROM tandem.migrations WHERE schema_name = $1 ORDER BY id DESC LIMIT 1`, [schema]);
  return r.rows[0];
}

/**
 * The name of the migration whose `start` failed before changing anything (its row forgotten,
 * its audit entries kept) if that is the schema's most recent event: a `rollback` after it has
 * nothing to undo.
 */
export async function lastForgottenStart(client: Db, schema: string): Promise<string | undefined> {
  const r = await client.query<{ migration_name: string }>(
    `SELECT a.migration_name FROM tandem.audit_log a
      WHERE a.schema_name = $1 AND a.migration_id IS NULL AND a.phase = 'start' AND a.migration_name IS NOT NULL
        AND a.started_at >= coalesce((SELECT max(m.updated_at) FROM tandem.migrations m WHERE m.schema_name = $1), '-infinity')
      ORDER BY a.id DESC LIMIT 1`,
    [schema],
  );
  return r.rows[0]?.migration_name;
}

/**
 * Forget a migration whose start changed nothing (no start step committed): its row, steps and
 * checkpoints go; its audit entries stay (they carry the migration's name), detached from it.
 */
export async function forgetUnstartedMigration(client: Db, id: string): Promise<boolean> {
  await client.query('BEGIN');
  try {
    const r = await client.query(
      `SELECT 1 FROM tandem.migrations m WHERE m.id = $1 AND m.phase = 'starting'
          AND NOT EXISTS (SELECT 1 FROM tandem.steps s WHERE s.migration_id = m.id)
          FOR UPDATE`,
      [id],
    );
    if (r.rowCount === 0) {
      await client.query('ROLLBACK');
      return false;
    }
    await client.query(`UPDATE tandem.audit_log SET migration_id = NULL WHERE migration_id = $1`, [id]);
    await client.query(`DELETE FROM tandem.migrations WHERE id = $1`, [id]);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Whether a step of the complete phase that cannot be undone is recorded done: after it, only
 * running complete again leads anywhere. A step without the `irreversible` flag (a plan stored
 * before steps carried it) counts as irreversible unless it only checks.
 */
export async function irreversibleCompleteStepDone(client: Db, row: MigrationRow): Promise<boolean> {
  const done = await doneSteps(client, row.id, 'complete');
  return row.plan.complete.some((s, i) => done.has(i) && (s.irreversible ?? !removesNothing(s)));
}

/** The version schema of the latest completed migration, if it still exists. */
export async function latestVersionSchema(client: Db, schema: string): Promise<string | null> {
  const r = await client.query<{ version_schema: string }>(
    `SELECT m.version_schema FROM tandem.migrations m
      WHERE m.schema_name = $1 AND m.phase = 'completed'
        AND EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = m.version_schema)
      ORDER BY m.completed_at DESC, m.id DESC LIMIT 1`,
    [schema],
  );
  return r.rows[0]?.version_schema ?? null;
}

/**
 * The schema's past migrations, newest first, without their stored plans: listing history needs
 * none, and one unreadable old plan must not make `status` or `history` fail.
 */
export async function history(client: Db, schema: string, limit = 20): Promise<MigrationSummary[]> {
  const r = await client.query<MigrationSummary>(`SELECT ${SUMMARY_COLUMNS} FROM tandem.migrations WHERE schema_name = $1 ORDER BY id DESC LIMIT $2`, [schema, limit]);
  return r.rows;
}

/** Where a migration came from, for the history (src/state/ddl-history.ts): its file, or a baseline. */
export interface MigrationSource {
  /** The file's name in its directory, e.g. 0042_users.yaml. */
  fileName?: string;
  /** sha256 (hex) of the file's bytes. */
  fileChecksum?: string;
  baseline?: boolean;
}

export async function insertMigration(
  client: Db,
  row: {
    schema: string;
    name: string;
    versionSchema: string;
    previousVersionSchema: string | null;
    migration: unknown;
    checksum: string;
    plan: Plan;
    source?: MigrationSource | undefined;
  },
): Promise<MigrationRow> {
  const source = row.source ?? {};
  const r = await client.query<MigrationRow>(
    `INSERT INTO tandem.migrations (schema_name, name, version_schema, previous_version_schema, phase, migration, checksum, plan, started_at, file_name, file_checksum, baseline)
     VALUES ($1, $2, $3, $4, 'starting', $5, $6, $7, now(), $8, $9, $10) RETURNING *`,
    [
      row.schema,
      row.name,
      row.versionSchema,
      row.previousVersionSchema,
      JSON.stringify(row.migration),
      row.checksum,
      JSON.stringify(row.plan),
      source.fileName ?? null,
      source.fileChecksum ?? null,
      source.baseline === true,
    ],
  );
  return r.rows[0]!;
}

export async function setPhase(client: Db, id: string, phase: MigrationPhase): Promise<void> {
  const stamp = phase === 'completed' ? ', completed_at = now()' : phase === 'rolled_back' ? ', rolled_back_at = now()' : '';
  const r = await client.query<{ name: string; schema_name: string }>(
    `UPDATE tandem.migrations SET phase = $2, last_error = NULL, updated_at = now()${stamp} WHERE id = $1 RETURNING name, schema_name`,
    [id, phase],
  );
  const row = r.rows[0];
  if (row) emitEvent({ type: 'phase-change', migrationId: String(id), migration: row.name, schema: row.schema_name, phase });
}

export async function recordError(client: Db, id: string, error: NonNullable<MigrationRow['last_error']>): Promise<void> {
  await client.query(`UPDATE tandem.migrations SET last_error = $2, updated_at = now() WHERE id = $1`, [id, JSON.stringify(error)]);
}

export async function doneSteps(client: Db, id: string, phase: Phase): Promise<Set<number>> {
  const r = await client.query<{ step_index: number }>(`SELECT step_index FROM tandem.steps WHERE migration_id = $1 AND phase = $2`, [id, phase]);
  return new Set(r.rows.map((x) => x.step_index));
}

/** Called inside the step's own transaction, so a step and its record commit together. */
export async function recordStep(client: Db, id: string, phase: Phase, index: number, stepId: string, attempts: number): Promise<void> {
  await client.query(`INSERT INTO tandem.steps (migration_id, phase, step_index, step_id, attempts) VALUES ($1, $2, $3, $4, $5)`, [id, phase, index, stepId, attempts]);
}

/** The same record as a statement of its own, to send with the step's statements in one round trip. */
export function recordStepSql(id: string, phase: Phase, index: number, stepId: string, attempts: number): string {
  return (
    `INSERT INTO tandem.steps (migration_id, phase, step_index, step_id, attempts) ` +
    `VALUES (${literal(id)}::bigint, ${literal(phase)}, ${Math.trunc(index)}, ${literal(stepId)}, ${Math.trunc(attempts)})`
  );
}

export interface AuditEntry {
  migrationId: string;
  schema: string;
  migrationName: string;
  phase: Phase;
  stepId: string;
  statements: string;
  attempt: number;
  outcome: 'ok' | 'failed' | 'lock_timeout';
  sqlstate?: string | undefined;
  error?: string | undefined;
  startedAt: Date;
  durationMs: number;
  client: string;
}

export async function audit(client: Db, e: AuditEntry): Promise<void> {
  await client.query(
    `INSERT INTO tandem.audit_log (migration_id, schema_name, migration_name, phase, step_id, statements, attempt, outcome, sqlstate, error, started_at, duration_ms, client)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [e.migrationId, e.schema, e.migrationName, e.phase, e.stepId, e.statements, e.attempt, e.outcome, e.sqlstate ?? null, e.error ?? null, e.startedAt, e.durationMs, e.client],
  );
  emitEvent({
    type: 'step-attempt',
    migrationId: String(e.migrationId),
    migration: e.migrationName,
    schema: e.schema,
    phase: e.phase,
    step: e.stepId,
    attempt: e.attempt,
    outcome: e.outcome,
    durationMs: e.durationMs,
    sqlstate: e.sqlstate,
    error: e.error,
  });
}
