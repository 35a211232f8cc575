import type pg from 'pg';

type Db = Pick<pg.ClientBase, 'query'>;

/**
 * What the dashboard, the JSON API and the metrics show, read from the database in one place:
 * the migrations (in progress and past), their steps, backfill progress, lock-wait retries, the
 * audit log, and the sessions waiting on locks right now. Read-only; a state schema that does not
 * exist yet reads as empty.
 */
export interface StateSnapshot {
  takenAt: string;
  initialized: boolean;
  migrations: MigrationView[];
  /** Sessions of this database waiting for a lock, with who blocks them. */
  lockWaits: LockWait[];
}

export interface MigrationView {
  id: string;
  schema: string;
  name: string;
  phase: string;
  versionSchema: string;
  previousVersionSchema: string | null;
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  rolledBackAt: string | null;
  updatedAt: string;
  lastError: unknown;
  /** Steps of each phase of its plan, and those recorded as done. */
  steps: Record<'start' | 'complete' | 'rollback', { total: number; done: number }>;
  backfill: BackfillView[];
  /** Lock-timeout retries recorded per step, and the time they waited. */
  lockRetries: { step: string; retries: number; waitedSeconds: number }[];
}

export interface BackfillView {
  table: string;
  rowsDone: number;
  estimatedRows: number;
  batches: number;
  slices: number;
  done: boolean;
  updatedAt: string | null;
}

export interface LockWait {
  pid: number;
  application: string | null;
  waitingForS: number | null;
  mode: string | null;
  relation: string | null;
  query: string | null;
  blockedBy: { pid: number; application: string | null; state: string | null; query: string | null }[];
}

export interface AuditRow {
  id: string;
  migrationId: string | null;
  phase: string;
  step: string;
  statements: string;
  attempt: number;
  outcome: string;
  sqlstate: string | null;
  error: string | null;
  startedAt: string;
  durationMs: number;
  runBy: string;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export async function stateInitialized(db: Db): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>(`SELECT to_regclass('tandem.migrations') IS NOT NULL AND to_regclass('tandem.backfill_checkpoints') IS NOT NULL AS ok`);
  return r.rows[0]!.ok;
}

/** The snapshot: in-progress migrations first, then the latest `historyLimit` finished ones. */
export async function readSnapshot(db: Db, opts: { schema?: string | undefined; historyLimit?: number } = {}): Promise<StateSnapshot> {
  const takenAt = new Date().toISOString();
  const lockWaits = await readLockWaits(db);
  if (!(await stateInitialized(db))) return { takenAt, initialized: false, migrations: [], lockWaits };
  const rows = await db.query<{
    id: string;
    schema_name: string;
    name: string;
    phase: string;
    version_schema: string;
    previous_version_schema: string | null;
    created_by: string;
    created_at: Date;
    started_at: Date | null;
    completed_at: Date | null;
    rolled_back_at: Date | null;
    updated_at: Date;
    last_error: unknown;
    totals: { start: number; complete: number; rollback: number };
    estimates: Record<string, number> | null;
  }>(
    `SELECT id::text, schema_name, name, phase, version_schema, previous_version_schema, created_by, created_at, started_at,
            completed_at, rolled_back_at, updated_at, last_error,
            jsonb_build_object('start', jsonb_array_length(plan->'start'), 'complete', jsonb_array_length(plan->'complete'),
                               'rollback', jsonb_array_length(plan->'rollback')) AS totals,
            (SELECT jsonb_object_agg(s->>'table', (s->>'estimatedRows')::float8)
               FROM jsonb_array_elements(plan->'start') s WHERE s->>'kind' = 'backfill') AS estimates
       FROM tandem.migrations
      WHERE ($1::text IS NULL OR schema_name = $1)
        AND id IN (SELECT id FROM tandem.migrations WHERE phase NOT IN ('completed', 'rolled_back')
                   UNION ALL (SELECT id FROM tandem.migrations WHERE phase IN ('completed', 'rolled_back') ORDER BY id DESC LIMIT $2))
      ORDER BY (phase NOT IN ('completed', 'rolled_back')) DESC, id DESC`,
    [opts.schema ?? null, opts.historyLimit ?? 20],
  );
  const ids = rows.rows.map((r) => r.id);
  const [steps, backfill, retries] = await Promise.all([readStepCounts(db, ids), readBackfill(db, ids), readLockRetries(db, ids)]);
  const migrations = rows.rows.map((r): MigrationView => ({
    id: r.id,
    schema: r.schema_name,
    name: r.name,
    phase: r.phase,
    versionSchema: r.version_schema,
    previousVersionSchema: r.previous_version_schema,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    startedAt: iso(r.started_at),
    completedAt: iso(r.completed_at),
    rolledBackAt: iso(r.rolled_back_at),
    updatedAt: r.updated_at.toISOString(),
    lastError: r.last_error,
    steps: {
      start: { total: r.totals.start, done: steps.get(`${r.id}/start`) ?? 0 },
      complete: { total: r.totals.complete, done: steps.get(`${r.id}/complete`) ?? 0 },
      rollback: { total: r.totals.rollback, done: steps.get(`${r.id}/rollback`) ?? 0 },
    },
    backfill: (backfill.get(r.id) ?? []).map((b) => ({ ...b, estimatedRows: Math.max(0, Math.round(r.estimates?.[b.table] ?? 0)) })),
    lockRetries: retries.get(r.id) ?? [],
  }));
  return { takenAt, initialized: true, migrations, lockWaits };
}

async function readStepCounts(db: Db, ids: string[]): Promise<Map<string, number>> {
  const r = await db.query<{ id: string; phase: string; n: number }>(
    `SELECT migration_id::text AS id, phase, count(*)::int AS n FROM tandem.steps WHERE migration_id = ANY ($1::bigint[]) GROUP BY 1, 2`,
    [ids],
  );
  return new Map(r.rows.map((x) => [`${x.id}/${x.phase}`, x.n]));
}

async function readBackfill(db: Db, ids: string[]): Promise<Map<string, Omit<BackfillView, 'estimatedRows'>[]>> {
  const r = await db.query<{ id: string; table_name: string; rows_done: string; batches: string; slices: number; done: boolean; updated_at: Date | null }>(
    `SELECT migration_id::text AS id, table_name, sum(rows_done)::text AS rows_done, sum(batches)::text AS batches, count(*)::int AS slices,
            bool_and(done) AS done, max(updated_at) AS updated_at
       FROM tandem.backfill_checkpoints WHERE migration_id = ANY ($1::bigint[]) GROUP BY 1, 2 ORDER BY 2`,
    [ids],
  );
  const out = new Map<string, Omit<BackfillView, 'estimatedRows'>[]>();
  for (const x of r.rows) {
    const list = out.get(x.id) ?? [];
    list.push({ table: x.table_name, rowsDone: Number(x.rows_done), batches: Number(x.batches), slices: x.slices, done: x.done, updatedAt: iso(x.updated_at) });
    out.set(x.id, list);
  }
  return out;
}

async function readLockRetries(db: Db, ids: string[]): Promise<Map<string, MigrationView['lockRetries']>> {
  const r = await db.query<{ id: string; step_id: string; n: number; waited: number }>(
    `SELECT migration_id::text AS id, step_id, count(*)::int AS n, (sum(duration_ms) / 1000)::float8 AS waited
       FROM tandem.audit_log WHERE migration_id = ANY ($1::bigint[]) AND outcome = 'lock_timeout' GROUP BY 1, 2 ORDER BY 2`,
    [ids],
  );
  const out = new Map<string, MigrationView['lockRetries']>();
  for (const x of r.rows) out.set(x.id, [...(out.get(x.id) ?? []), { step: x.step_id, retries: x.n, waitedSeconds: x.waited }]);
  return out;
}

/**
 * Sessions of this database waiting for a lock now, and the sessions blocking them
 * (pg_blocking_pids). A role sees other roles' queries only with pg_read_all_stats; otherwise
 * PostgreSQL shows "<insufficient privilege>", which is passed on as it is.
 */
export async function readLockWaits(db: Db): Promise<LockWait[]> {
  const r = await db.query<{
    pid: number;
    application_name: string | null;
    waiting_s: number | null;
    mode: string | null;
    relation: string | null;
    query: string | null;
    blocked_by: LockWait['blockedBy'];
  }>(
    `SELECT a.pid, nullif(a.application_name, '') AS application_name,
            extract(epoch FROM now() - a.state_change)::float8 AS waiting_s,
            l.mode, l.relation::regclass::text AS relation, left(a.query, 300) AS query,
            coalesce((SELECT jsonb_agg(jsonb_build_object('pid', b.pid, 'application', nullif(b.application_name, ''), 'state', b.state,
                                                          'query', left(b.query, 300)) ORDER BY b.pid)
                        FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))), '[]'::jsonb) AS blocked_by
       FROM pg_stat_activity a
       LEFT JOIN LATERAL (SELECT mode, relation FROM pg_locks WHERE pid = a.pid AND NOT granted LIMIT 1) l ON true
      WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
      ORDER BY a.pid`,
  );
  return r.rows.map((x) => ({
    pid: x.pid,
    application: x.application_name,
    waitingForS: x.waiting_s,
    mode: x.mode,
    relation: x.relation,
    query: x.query,
    blockedBy: x.blocked_by,
  }));
}

/** The audit log of one migration (its statements and durations), oldest first, at most `limit` entries. */
export async function readAudit(db: Db, migrationId: string, limit = 500): Promise<AuditRow[]> {
  const r = await db.query<{
    id: string;
    migration_id: string | null;
    phase: string;
    step_id: string;
    statements: string;
    attempt: number;
    outcome: string;
    sqlstate: string | null;
    error: string | null;
    started_at: Date;
    duration_ms: number;
    run_by: string;
  }>(
    `SELECT id::text, migration_id::text, phase, step_id, statements, attempt, outcome, sqlstate, error, started_at, duration_ms, run_by
       FROM tandem.audit_log WHERE migration_id = $1 ORDER BY id LIMIT $2`,
    [migrationId, limit],
  );
  return r.rows.map((x) => ({
    id: x.id,
    migrationId: x.migration_id,
    phase: x.phase,
    step: x.step_id,
    statements: x.statements,
    attempt: x.attempt,
    outcome: x.outcome,
    sqlstate: x.sqlstate,
    error: x.error,
    startedAt: x.started_at.toISOString(),
    durationMs: x.duration_ms,
    runBy: x.run_by,
  }));
}
