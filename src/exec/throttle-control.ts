import type pg from 'pg';
import type { Plan } from '../plan/types.js';
import { qualified } from '../sql/ident.js';
import { CONTROL_CHANNEL } from './backfill-throttle.js';
import { formatDuration } from './throttle-format.js';

/**
 * The operator's side of the throttle: `tandem backfill pause|resume|set` write one row of
 * tandem.backfill_controls and NOTIFY the workers (delivered at commit, so a worker never reads a
 * half-made change); `tandem status` and `tandem backfill status` read the controls, the live
 * pacing of every worker, and the checkpoints, for the progress, the rate and the ETA.
 */

export interface ControlChange {
  paused?: boolean;
  batchSize?: number;
  delayMs?: number;
  targetBatchMs?: number;
  /** Let the throttle size batches itself again (clears a `set --batch-size`). */
  unpinBatchSize?: boolean;
}

export interface ControlRow {
  paused: boolean;
  batchSize: number | null;
  delayMs: number | null;
  targetBatchMs: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

/** Apply a change to the migration's controls, in one transaction with its NOTIFY. */
export async function changeControls(client: pg.Client, migrationId: string, change: ControlChange): Promise<ControlRow> {
  await client.query('BEGIN');
  try {
    await client.query(`INSERT INTO tandem.backfill_controls (migration_id) VALUES ($1) ON CONFLICT DO NOTHING`, [migrationId]);
    const r = await client.query<RawControl>(
      `UPDATE tandem.backfill_controls SET
          paused = coalesce($2, paused),
          batch_size = CASE WHEN $6 THEN NULL ELSE coalesce($3, batch_size) END,
          delay_ms = coalesce($4, delay_ms),
          target_batch_ms = coalesce($5, target_batch_ms),
          updated_at = now(), updated_by = session_user
        WHERE migration_id = $1
        RETURNING ${CONTROL_COLUMNS}`,
      [migrationId, change.paused ?? null, change.batchSize ?? null, change.delayMs ?? null, change.targetBatchMs ?? null, change.unpinBatchSize === true],
    );
    await client.query(`SELECT pg_notify($1, $2)`, [CONTROL_CHANNEL, migrationId]);
    await client.query('COMMIT');
    return controlOf(r.rows[0]);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

interface RawControl {
  paused: boolean;
  batch_size: number | null;
  delay_ms: number | null;
  target_batch_ms: number | null;
  updated_at: Date | null;
  updated_by: string | null;
}

const CONTROL_COLUMNS = 'paused, batch_size, delay_ms, target_batch_ms, updated_at, updated_by';

function controlOf(r: RawControl | undefined): ControlRow {
  return {
    paused: r?.paused ?? false,
    batchSize: r?.batch_size ?? null,
    delayMs: r?.delay_ms ?? null,
    targetBatchMs: r?.target_batch_ms ?? null,
    updatedAt: r?.updated_at?.toISOString() ?? null,
    updatedBy: r?.updated_by ?? null,
  };
}

export async function readControls(client: pg.Client, migrationId: string): Promise<ControlRow> {
  const r = await client.query<RawControl>(`SELECT ${CONTROL_COLUMNS} FROM tandem.backfill_controls WHERE migration_id = $1`, [migrationId]);
  return controlOf(r.rows[0]);
}

export interface SlicePacing {
  slice: number;
  batchSize: number;
  delayMs: number;
  rowsPerSecond: number;
  lastBatchMs: number | null;
  paused: boolean;
  backoffReason: string | null;
  finished: boolean;
  /** Seconds since the worker last recorded its pacing (a worker that died stops updating it). */
  ageSeconds: number;
}

export interface TableProgress {
  table: string;
  rowsDone: number;
  /** The table's row count as the planner estimates it now (pg_class.reltuples), else the plan's. */
  estimatedTotal: number;
  /** Rows per second, summed over the workers that recorded their pacing in the last RATE_FRESH_SECONDS. */
  rowsPerSecond: number;
  /** Seconds left at that rate; null when done, paused, or no rate is measured yet. */
  etaSeconds: number | null;
  done: boolean;
  slices: SlicePacing[];
}

export interface BackfillProgress {
  controls: ControlRow;
  tables: TableProgress[];
}

/** A worker whose pacing is older than this is not counted in the rate (it stopped, or died). */
export const RATE_FRESH_SECONDS = 15;

/** Progress, rate, ETA and settings of the migration's backfill: a few small queries, no table scan. */
export async function backfillProgress(client: pg.Client, migrationId: string, plan: Pick<Plan, 'start'>): Promise<BackfillProgress> {
  const controls = await readControls(client, migrationId);
  const cps = await client.query<{ table_name: string; rows_done: string; done: boolean }>(
    `SELECT table_name, sum(rows_done)::text AS rows_done, bool_and(done) AS done FROM tandem.backfill_checkpoints WHERE migration_id = $1 GROUP BY table_name`,
    [migrationId],
  );
  const pacing = await client.query<RawPacing>(
    `SELECT table_name, slice, batch_size, delay_ms, rows_per_second, last_batch_ms, paused, backoff_reason, finished,
            extract(epoch FROM now() - updated_at)::float8 AS age_seconds
       FROM tandem.backfill_pacing WHERE migration_id = $1 AND slice >= 0 ORDER BY table_name, slice`,
    [migrationId],
  );
  const tables: TableProgress[] = [];
  for (const step of plan.start) {
    if (step.kind !== 'backfill' || step.verifyOnly || tables.some((t) => t.table === step.table)) continue;
    const cp = cps.rows.find((c) => c.table_name === step.table);
    const slices = pacing.rows.filter((p) => p.table_name === step.table).map(sliceOf);
    // Both counts are estimates kept by the server, no scan: reltuples (last VACUUM/ANALYZE) and the
    // statistics' live tuples (inserts minus deletes since); a VACUUM during the backfill may
    // lower either, hence the largest of them, the plan's estimate and the rows already done.
    const estimate = await client.query<{ n: number | null }>(
      `SELECT greatest(CASE WHEN c.reltuples >= 0 THEN c.reltuples::float8 END, s.n_live_tup::float8) AS n
         FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = to_regclass($1)`,
      [qualified(step.schema, step.table)],
    );
    const rowsDone = Number(cp?.rows_done ?? 0);
    const done = cp?.done ?? false;
    const estimatedTotal = Math.round(Math.max(rowsDone, step.estimatedRows, estimate.rows[0]?.n ?? 0));
    const rowsPerSecond = slices.filter((s) => !s.finished && !s.paused && s.ageSeconds < RATE_FRESH_SECONDS).reduce((n, s) => n + s.rowsPerSecond, 0);
    tables.push({
      table: step.table,
      rowsDone,
      estimatedTotal,
      rowsPerSecond,
      etaSeconds: etaSeconds({ done, paused: controls.paused, rowsDone, estimatedTotal, rowsPerSecond }),
      done,
      slices,
    });
  }
  return { controls, tables };
}

/** Seconds left at the measured rate; null when nothing is left to measure against. Pure. */
export function etaSeconds(p: { done: boolean; paused: boolean; rowsDone: number; estimatedTotal: number; rowsPerSecond: number }): number | null {
  if (p.done) return 0;
  if (p.paused || p.rowsPerSecond <= 0) return null;
  return Math.max(0, Math.round((p.estimatedTotal - p.rowsDone) / p.rowsPerSecond));
}

interface RawPacing {
  table_name: string;
  slice: number;
  batch_size: number;
  delay_ms: number;
  rows_per_second: number;
  last_batch_ms: number | null;
  paused: boolean;
  backoff_reason: string | null;
  finished: boolean;
  age_seconds: number;
}

function sliceOf(p: RawPacing): SlicePacing {
  return {
    slice: p.slice,
    batchSize: p.batch_size,
    delayMs: p.delay_ms,
    rowsPerSecond: p.rows_per_second,
    lastBatchMs: p.last_batch_ms,
    paused: p.paused,
    backoffReason: p.backoff_reason,
    finished: p.finished,
    ageSeconds: p.age_seconds,
  };
}

/** One line per table for `tandem status` and `tandem backfill status`. */
export function describeProgress(t: TableProgress, paused: boolean): string {
  const pct = t.estimatedTotal > 0 ? Math.min(100, Math.floor((t.rowsDone / t.estimatedTotal) * 100)) : 100;
  const rate = t.rowsPerSecond > 0 ? `, ${Math.round(t.rowsPerSecond)} rows/s` : '';
  const eta = t.done ? ', done' : paused ? ', paused' : t.etaSeconds !== null ? `, ETA ${formatDuration(t.etaSeconds)}` : '';
  return `backfill ${t.table}: ${t.rowsDone}/${t.estimatedTotal} rows (~${pct}%)${rate}${eta}`;
}

/** Installs whose state schema predates these tables get them (idempotent DDL, only when a migration is in progress). */
export async function ensureControlTables(client: pg.Client): Promise<void> {
  const r = await client.query<{ ok: boolean }>(
    `SELECT to_regclass('tandem.backfill_controls') IS NOT NULL AND to_regclass('tandem.backfill_pacing') IS NOT NULL AND to_regclass('tandem.verify_chunks') IS NOT NULL AS ok`,
  );
  if (r.rows[0]!.ok) return;
  const { backfillControlDdl } = await import('../state/ddl-backfill-control.js');
  for (const sql of backfillControlDdl) await client.query(sql);
}

/** The same, or null on an install whose state schema has no control tables yet (status only reads). */
export async function backfillProgressIfTracked(client: pg.Client, migrationId: string, plan: Pick<Plan, 'start'>): Promise<BackfillProgress | null> {
  const r = await client.query<{ ok: boolean }>(`SELECT to_regclass('tandem.backfill_controls') IS NOT NULL AND to_regclass('tandem.backfill_pacing') IS NOT NULL AS ok`);
  return r.rows[0]!.ok ? backfillProgress(client, migrationId, plan) : null;
}
