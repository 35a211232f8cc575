/**
 * The runner's side of tandem.rollouts (DDL: ddl-rollout.ts; the clients' side:
 * src/client/rollout-state.ts). start creates the migration's row at 0%, complete and rollback
 * clear it, `tandem rollout set` moves the percentage.
 */
import type pg from 'pg';
import { StateError } from '../errors.js';
import { ROLLOUT_NOTIFY_CHANNEL, rolloutDdl } from './ddl-rollout.js';
import { inProgress, setPhase, stateSchemaReady } from './store.js';

type Db = pg.Client | pg.PoolClient;

/** Whether tandem.rollouts exists (an install made before it has none until the next `init`/`start`). */
export async function rolloutsReady(client: Db): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>(`SELECT to_regclass('tandem.rollouts') IS NOT NULL AND to_regclass('tandem.version_health') IS NOT NULL AS ok`);
  return r.rows[0]!.ok;
}

export interface RolloutMigration {
  id: string;
  name: string;
  schema_name: string;
  version_schema: string;
  previous_version_schema: string | null;
}

/** Tell listening clients (delivered when the transaction commits; nothing if it rolls back). */
async function notifyRollout(client: Db, schema: string): Promise<void> {
  await client.query(`SELECT pg_notify($1, $2)`, [ROLLOUT_NOTIFY_CHANNEL, schema]);
}

/** The version the old application uses: the previous version schema, else the schema's tables themselves. */
export function oldVersionOf(m: RolloutMigration): string {
  return m.previous_version_schema ?? m.schema_name;
}

/**
 * The migration's rollout row at 0%, unmanaged, with a fresh salt. Run again for the same
 * migration (a resumed start) it keeps the row as it is.
 */
export async function beginRollout(client: Db, m: RolloutMigration): Promise<void> {
  if (!(await rolloutsReady(client))) for (const sql of rolloutDdl) await client.query(sql);
  await client.query(
    `INSERT INTO tandem.rollouts AS r (schema_name, migration_id, migration_name, old_version, new_version, percent, managed)
     VALUES ($1, $2, $3, $4, $5, 0, false)
     ON CONFLICT (schema_name) DO UPDATE
        SET migration_id = EXCLUDED.migration_id, migration_name = EXCLUDED.migration_name, old_version = EXCLUDED.old_version,
            new_version = EXCLUDED.new_version, percent = 0, managed = false, salt = md5(random()::text || clock_timestamp()::text),
            updated_at = now(), updated_by = current_user
      WHERE r.migration_id IS DISTINCT FROM EXCLUDED.migration_id`,
    [m.schema_name, m.id, m.name, oldVersionOf(m), m.version_schema],
  );
  await notifyRollout(client, m.schema_name);
}

/** No migration in progress any more: every key gets `latest` (the new version after complete, the old after rollback). */
export async function endRollout(client: Db, schema: string, latest: string): Promise<void> {
  if (!(await rolloutsReady(client))) return;
  await client.query(
    `INSERT INTO tandem.rollouts AS r (schema_name, migration_id, migration_name, old_version, new_version, percent, managed)
     VALUES ($1, NULL, NULL, NULL, $2, 100, false)
     ON CONFLICT (schema_name) DO UPDATE
        SET migration_id = NULL, migration_name = NULL, old_version = NULL, new_version = EXCLUDED.new_version, percent = 100, managed = false,
            updated_at = now(), updated_by = current_user
      WHERE (r.migration_id, r.old_version, r.new_version) IS DISTINCT FROM (NULL::bigint, NULL::text, EXCLUDED.new_version)`,
    [schema, latest],
  );
  await notifyRollout(client, schema);
}

export interface RolloutRow {
  schema_name: string;
  migration_id: string | null;
  migration_name: string | null;
  old_version: string | null;
  new_version: string;
  percent: number;
  managed: boolean;
  updated_at: Date;
  updated_by: string;
}

const ROW_COLUMNS = `schema_name, migration_id::text AS migration_id, migration_name, old_version, new_version, percent::float8 AS percent, managed, updated_at, updated_by`;

/** The schema's rollout row; `lock` takes it FOR UPDATE (complete's check and `rollout set` serialise on it). */
export async function readRollout(client: Db, schema: string, lock = false): Promise<RolloutRow | undefined> {
  if (!(await rolloutsReady(client))) return undefined;
  const r = await client.query<RolloutRow>(`SELECT ${ROW_COLUMNS} FROM tandem.rollouts WHERE schema_name = $1${lock ? ' FOR UPDATE' : ''}`, [schema]);
  return r.rows[0];
}

/** Route `percent` of the keys to the new version of the migration in progress; the rollout is managed from now on. */
export async function setRolloutPercent(client: Db, m: RolloutMigration, percent: number): Promise<RolloutRow> {
  await beginRollout(client, m); // a row for a migration started before rollouts existed
  const r = await client.query<RolloutRow>(
    `UPDATE tandem.rollouts SET percent = $3, managed = true, updated_at = now(), updated_by = current_user
      WHERE schema_name = $1 AND migration_id = $2 RETURNING ${ROW_COLUMNS}`,
    [m.schema_name, m.id, percent],
  );
  await notifyRollout(client, m.schema_name);
  return r.rows[0]!;
}

/** Health rows older than this are removed when rollouts change or are looked at. */
export const HEALTH_RETENTION = '1 day';

export async function pruneHealth(client: Db, schema: string): Promise<void> {
  await client.query(`DELETE FROM tandem.version_health WHERE schema_name = $1 AND recorded_at < now() - interval '${HEALTH_RETENTION}'`, [schema]);
}

/** Run `fn` in one transaction on `client`. */
export async function withTransaction<T>(client: Db, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

// The lifecycle's hooks. Each changes the rollout row in the same transaction as the phase, so
// the routing clients follow can never disagree with the migration's phase after a crash.

/** End of start (the new version schema exists): the rollout row at 0%, and the migration active. */
export async function markStarted(client: Db, m: RolloutMigration): Promise<void> {
  await withTransaction(client, async () => {
    await beginRollout(client, m);
    await setPhase(client, m.id, 'active');
  });
}

/**
 * Beginning of complete: refused while a managed rollout routes less than 100% of the keys to
 * the new version (unless forced); else every key goes to the new version from now on (the old
 * version schema is about to go) and the migration is completing. Nothing changes when refused.
 */
export async function markCompleting(client: Db, m: RolloutMigration, force: boolean): Promise<void> {
  await withTransaction(client, async () => {
    const rollout = await readRollout(client, m.schema_name, true);
    if (!force && rollout?.managed && rollout.migration_id === m.id && rollout.percent < 100) {
      throw new StateError(
        `migration "${m.name}": only ${rollout.percent}% of keys are routed to the new version ${m.version_schema} (the rollout is managed since \`tandem rollout set\`); complete removes the old version`,
        'run `tandem rollout set 100`, check `tandem rollout status`, then `tandem complete` again; or `tandem complete --force` to complete anyway',
        { code: 'rollout-incomplete' },
      );
    }
    await endRollout(client, m.schema_name, m.version_schema);
    await setPhase(client, m.id, 'completing');
  });
}

/** Beginning of rollback: every key goes back to the old version (the new version schema is about to go). */
export async function markRollingBack(client: Db, m: RolloutMigration & { phase: string }): Promise<void> {
  await withTransaction(client, async () => {
    await endRollout(client, m.schema_name, oldVersionOf(m));
    if (m.phase !== 'rolling_back') await setPhase(client, m.id, 'rolling_back');
  });
}

export interface SetRolloutResult {
  schema: string;
  migration: string;
  percent: number;
  previousPercent: number;
  oldVersion: string;
  newVersion: string;
  managed: boolean;
  updatedAt: Date;
  updatedBy: string;
}

/**
 * `tandem rollout set`: route `percent` (0 … 100, checked by the caller) of the keys to the new
 * version of the schema's migration in progress. StateError (exit 2, nothing changed) when no
 * migration is in progress or it is not active (still starting, completing, rolling back).
 */
export async function setRollout(client: Db, schema: string, percent: number): Promise<SetRolloutResult> {
  if (!(await stateSchemaReady(client))) throw noMigration(schema);
  return withTransaction(client, async () => {
    // The rollout row first (FOR UPDATE): complete takes it the same way before it changes the
    // phase, so the phase read next is the one that holds while this commits.
    const current = await readRollout(client, schema, true);
    const m = await inProgress(client, schema);
    if (!m) throw noMigration(schema);
    if (m.phase === 'starting') {
      throw new StateError(`migration "${m.name}" has not finished starting`, 'run `tandem start` with its file again to finish it, then set the rollout', { code: 'not-started' });
    }
    if (m.phase !== 'active') {
      throw new StateError(`migration "${m.name}" is ${m.phase.replace('_', ' ')}: its rollout is over`, undefined, {
        code: m.phase === 'completing' ? 'completing' : 'rolling-back',
      });
    }
    const after = await setRolloutPercent(client, m, percent);
    await pruneHealth(client, schema);
    return {
      schema,
      migration: m.name,
      percent: after.percent,
      previousPercent: current?.migration_id === m.id ? current.percent : 0,
      oldVersion: after.old_version!,
      newVersion: after.new_version,
      managed: after.managed,
      updatedAt: after.updated_at,
      updatedBy: after.updated_by,
    };
  });
}

function noMigration(schema: string): StateError {
  return new StateError(`no migration is in progress on schema "${schema}": there is no rollout to set`, 'start one with `tandem start <file>`', { code: 'not-in-progress' });
}
