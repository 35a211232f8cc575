import type pg from 'pg';
import { literal, qualified } from '../sql/ident.js';

/**
 * The throttle's one round trip a second: a single simple-protocol query string (hence values
 * inlined through `literal`) that records this worker's live pacing and reads back the operator's
 * controls and the pressure signals. Both statements run in the implicit transaction of that
 * string: a failure records nothing.
 */

export interface PacingRecord {
  migrationId: string;
  table: string;
  slice: number;
  batchSize: number;
  delayMs: number;
  rowsPerSecond: number;
  lastBatchMs: number | null;
  rowsDone: number;
  paused: boolean;
  reason: string | null;
  finished: boolean;
}

export interface Controls {
  paused: boolean;
  batchSize: number | null;
  delayMs: number | null;
  targetBatchMs: number | null;
  updatedBy: string | null;
}

export interface PollResult {
  controls: Controls;
  lockWaiters: number;
  replicas?: { count: number; visible: number; lagMs: number | null };
  /** The user's --throttle-sql answer (true = slow down), when it was asked. */
  userSlow?: boolean;
}

export interface PollSpec {
  schema: string;
  table: string;
  checkReplicas: boolean;
  /** Included as a scalar subquery; null to leave it out. */
  throttleSql: string | null;
}

const num = (n: number) => (Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : '0');
const text = (s: string | null) => (s === null ? 'NULL' : literal(s));

export function recordPacingSql(p: PacingRecord): string {
  return `INSERT INTO tandem.backfill_pacing AS p (migration_id, table_name, slice, batch_size, delay_ms, rows_per_second, last_batch_ms, rows_done, paused, backoff_reason, finished, updated_at)
    VALUES (${literal(p.migrationId)}::bigint, ${literal(p.table)}, ${Math.trunc(p.slice)}, ${Math.trunc(p.batchSize)}, ${Math.trunc(p.delayMs)}, ${num(p.rowsPerSecond)},
            ${p.lastBatchMs === null ? 'NULL' : num(p.lastBatchMs)}, ${Math.trunc(p.rowsDone)}, ${p.paused}, ${text(p.reason)}, ${p.finished}, now())
    ON CONFLICT (migration_id, table_name, slice) DO UPDATE SET batch_size = EXCLUDED.batch_size, delay_ms = EXCLUDED.delay_ms,
      rows_per_second = EXCLUDED.rows_per_second, last_batch_ms = EXCLUDED.last_batch_ms, rows_done = EXCLUDED.rows_done,
      paused = EXCLUDED.paused, backoff_reason = EXCLUDED.backoff_reason, finished = EXCLUDED.finished, updated_at = now()`;
}

/** A user's query as a scalar subquery: trailing semicolons and whitespace removed. */
export function asScalarSubquery(sql: string): string {
  return `(${sql.replace(/[\s;]+$/u, '')})`;
}

/**
 * Sessions waiting on a lock of the table itself (or on one of its tuples), or on the
 * transaction of a session that holds a lock on the table (how a row-lock wait shows in pg_locks).
 * pg_locks is readable by every role; it briefly locks the shared lock table, hence once a second.
 */
function lockWaitersSql(qualifiedTable: string): string {
  const rel = `to_regclass(${literal(qualifiedTable)})`;
  return `(SELECT count(DISTINCT w.pid)::int FROM pg_locks w
     WHERE NOT w.granted AND w.pid <> pg_backend_pid() AND (
       (w.relation = ${rel} AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
       OR (w.locktype = 'transactionid' AND EXISTS (
         SELECT 1 FROM pg_locks h JOIN pg_locks r ON r.pid = h.pid AND r.granted AND r.relation = ${rel}
          WHERE h.granted AND h.locktype = 'transactionid' AND h.transactionid = w.transactionid))))`;
}

export function pollSql(migrationId: string, spec: PollSpec): string {
  const replicas = spec.checkReplicas
    ? `(SELECT json_build_object('count', count(*), 'visible', count(state), 'lagMs', max(extract(epoch FROM replay_lag) * 1000)) FROM pg_stat_replication)`
    : 'NULL::json';
  return `SELECT c.paused, c.batch_size, c.delay_ms, c.target_batch_ms, c.updated_by,
      ${lockWaitersSql(qualified(spec.schema, spec.table))} AS lock_waiters,
      ${replicas} AS replicas,
      ${spec.throttleSql === null ? 'NULL::boolean' : `${asScalarSubquery(spec.throttleSql)}::boolean`} AS user_slow
    FROM (SELECT 1) AS one LEFT JOIN tandem.backfill_controls c ON c.migration_id = ${literal(migrationId)}::bigint`;
}

interface PollRow {
  paused: boolean | null;
  batch_size: number | null;
  delay_ms: number | null;
  target_batch_ms: number | null;
  updated_by: string | null;
  lock_waiters: number;
  replicas: { count: number; visible: number; lagMs: number | null } | null;
  user_slow: boolean | null;
}

/** Record the pacing (when given) and read the controls and signals, in one round trip. */
export async function poll(client: pg.Client, migrationId: string, spec: PollSpec, record: PacingRecord | null): Promise<PollResult> {
  const select = pollSql(migrationId, spec);
  const results = await client.query<PollRow>(record ? `${recordPacingSql(record)};\n${select}` : select);
  const list = (Array.isArray(results) ? results : [results]) as pg.QueryResult<PollRow>[];
  const row = list[list.length - 1]!.rows[0]!;
  return {
    controls: {
      paused: row.paused === true,
      batchSize: row.batch_size,
      delayMs: row.delay_ms,
      targetBatchMs: row.target_batch_ms,
      updatedBy: row.updated_by,
    },
    lockWaiters: row.lock_waiters,
    ...(row.replicas ? { replicas: row.replicas } : {}),
    ...(spec.throttleSql !== null ? { userSlow: row.user_slow === true } : {}),
  };
}

/** The user's --throttle-url: a non-2xx answer, or none within a second, means slow down. */
export async function urlSaysSlow(url: string): Promise<{ slow: boolean; problem?: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel().catch(() => undefined);
    return res.ok ? { slow: false } : { slow: true, problem: `answered ${res.status}` };
  } catch (err) {
    return { slow: true, problem: (err as Error).message };
  }
}
