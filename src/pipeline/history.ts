import type pg from 'pg';
import { type HistoryEntry, readHistory } from './history-store.js';

/** Wall-clock time of each phase, in ms (null: the phase did not run, or left no timestamps). */
export interface PhaseDurations {
  /** Expand: from the start to the migration being active, its backfill included (resumes: across runs). */
  startMs: number | null;
  /** Of the start, the time spent in backfill steps. */
  backfillMs: number | null;
  /** Contract: from the first complete step to completed. */
  completeMs: number | null;
}

export interface HistoryItem {
  name: string;
  phase: string;
  baseline: boolean;
  versionSchema: string;
  file: string | null;
  /** sha256 of the file's bytes when it was applied. */
  fileChecksum: string | null;
  /** sha256 of the migration document (what a resumed start compares). */
  checksum: string;
  /** The database role that applied it (session_user). */
  appliedBy: string;
  /** The runner's `user@host pid` from its first audited step. */
  client: string | null;
  startedAt: string | null;
  completedAt: string | null;
  rolledBackAt: string | null;
  durations: PhaseDurations;
}

export interface HistoryReport {
  schema: string;
  migrations: HistoryItem[];
}

interface Timing {
  migration_id: string;
  start_end: Date | null;
  backfill_ms: number | null;
  complete_begin: Date | null;
  client: string | null;
}

/**
 * Phase timings from tandem.steps (done_at of each step: a backfill step's time is from the step
 * before it to its own end) and tandem.audit_log (when the first complete step began; the client).
 */
async function readTimings(client: pg.Client, ids: string[]): Promise<Map<string, Timing>> {
  if (ids.length === 0) return new Map();
  const r = await client.query<Timing>(
    `WITH s AS (
       SELECT st.migration_id, st.phase, st.step_id, st.done_at,
              lag(st.done_at) OVER (PARTITION BY st.migration_id, st.phase ORDER BY st.step_index) AS previous_done
         FROM tandem.steps st WHERE st.migration_id = ANY ($1::bigint[]))
     SELECT m.id AS migration_id,
            (SELECT max(s.done_at) FROM s WHERE s.migration_id = m.id AND s.phase = 'start') AS start_end,
            (SELECT sum(extract(epoch FROM s.done_at - coalesce(s.previous_done, m.started_at)) * 1000)::float8
               FROM s WHERE s.migration_id = m.id AND s.phase = 'start' AND s.step_id LIKE 'backfill:%') AS backfill_ms,
            (SELECT min(a.started_at) FROM tandem.audit_log a WHERE a.migration_id = m.id AND a.phase = 'complete') AS complete_begin,
            (SELECT a.client FROM tandem.audit_log a WHERE a.migration_id = m.id ORDER BY a.id LIMIT 1) AS client
       FROM tandem.migrations m WHERE m.id = ANY ($1::bigint[])`,
    [ids],
  );
  return new Map(r.rows.map((t) => [String(t.migration_id), t]));
}

function msBetween(from: Date | null, to: Date | null): number | null {
  return from && to ? Math.max(0, Math.round(to.getTime() - from.getTime())) : null;
}

function durationsOf(e: HistoryEntry, t: Timing | undefined): PhaseDurations {
  const active = e.phase !== 'starting';
  return {
    startMs: active ? msBetween(e.startedAt, t?.start_end ?? null) : null,
    backfillMs: t?.backfill_ms === null || t?.backfill_ms === undefined ? null : Math.round(t.backfill_ms),
    // A complete with no step (nothing to remove) took no time.
    completeMs: e.completedAt ? (msBetween(t?.complete_begin ?? null, e.completedAt) ?? 0) : null,
  };
}

/** The schema's migrations, oldest first (rolled back ones included, with their phase). */
export async function historyReport(client: pg.Client, schema: string): Promise<HistoryReport> {
  const entries = await readHistory(client, schema);
  const timings = await readTimings(
    client,
    entries.map((e) => e.id),
  );
  const migrations = entries.map((e) => ({
    name: e.name,
    phase: e.phase,
    baseline: e.baseline,
    versionSchema: e.versionSchema,
    file: e.fileName,
    fileChecksum: e.fileChecksum,
    checksum: e.checksum,
    appliedBy: e.createdBy,
    client: timings.get(e.id)?.client ?? null,
    startedAt: e.startedAt?.toISOString() ?? null,
    completedAt: e.completedAt?.toISOString() ?? null,
    rolledBackAt: e.rolledBackAt?.toISOString() ?? null,
    durations: durationsOf(e, timings.get(e.id)),
  }));
  return { schema, migrations };
}

function ms(v: number | null): string {
  if (v === null) return '-';
  return v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`;
}

export function describeHistory(r: HistoryReport): string {
  if (r.migrations.length === 0) return `schema ${r.schema}: no migrations`;
  const lines = [`schema ${r.schema}: ${r.migrations.length} migrations (oldest first)`];
  for (const m of r.migrations) {
    lines.push(
      `${m.name}${m.baseline ? ' (baseline)' : ''}  ${m.phase}  file ${m.file ?? '-'} sha256 ${m.fileChecksum?.slice(0, 12) ?? '-'}  by ${m.appliedBy}${m.client ? ` (${m.client})` : ''}` +
        `  at ${m.startedAt ?? '-'}  start ${ms(m.durations.startMs)} (backfill ${ms(m.durations.backfillMs)}), complete ${ms(m.durations.completeMs)}`,
    );
  }
  return lines.join('\n');
}
