import type pg from 'pg';
import { pgRunner } from '../client/sql-runner.js';
import { rolloutStatus, type RolloutStatus } from '../client/rollout-status.js';
import { backfillProgressIfTracked, type BackfillProgress } from '../exec/throttle-control.js';
import type { Plan } from '../plan/types.js';
import { etaSeconds, type RateTracker } from './rate.js';
import type { StateSnapshot } from './state-snapshot.js';

/**
 * What the other parts of the state add to the snapshot of the migrations in progress: the
 * backfill's live pacing (batch size, delay, paused, rate and ETA the workers record), the latest
 * `tandem verify` run, and the rollout with each version's health as the clients flush it.
 * Every part is read only when its tables exist.
 */
export interface StateExtras {
  /** Per migration id. */
  backfill: Record<string, BackfillProgress>;
  verify: Record<string, VerifyView>;
  rollouts: RolloutStatus[];
}

export interface VerifyView {
  runId: string;
  startedAt: string;
  finishedAt: string | null;
  chunks: number;
  rows: number;
  mismatches: number;
  /** The first differing keys (at most 20). */
  mismatchedKeys: unknown[];
}

const active = (s: StateSnapshot) => s.migrations.filter((m) => m.phase !== 'completed' && m.phase !== 'rolled_back');

export async function readExtras(client: pg.ClientBase, snapshot: StateSnapshot): Promise<StateExtras> {
  const extras: StateExtras = { backfill: {}, verify: {}, rollouts: [] };
  if (!snapshot.initialized) return extras;
  const present = await client.query<{ verify: boolean; rollouts: boolean }>(
    `SELECT to_regclass('tandem.verify_chunks') IS NOT NULL AS verify, to_regclass('tandem.rollouts') IS NOT NULL AS rollouts`,
  );
  const { verify, rollouts } = present.rows[0]!;
  for (const m of active(snapshot)) {
    const plan = await client.query<{ start: Plan['start'] }>(`SELECT plan->'start' AS start FROM tandem.migrations WHERE id = $1`, [m.id]);
    const start = plan.rows[0]?.start;
    if (start) {
      const progress = await backfillProgressIfTracked(client as pg.Client, m.id, { start });
      if (progress && progress.tables.length) extras.backfill[m.id] = progress;
    }
    if (verify) {
      const v = await latestVerify(client, m.id);
      if (v) extras.verify[m.id] = v;
    }
  }
  if (rollouts) {
    const schemas = [...new Set(active(snapshot).map((m) => m.schema))];
    for (const schema of schemas) extras.rollouts.push(await rolloutStatus(pgRunner(client), schema));
  }
  return extras;
}

async function latestVerify(client: pg.ClientBase, migrationId: string): Promise<VerifyView | undefined> {
  const r = await client.query<{ id: string; started_at: Date; finished_at: Date | null; chunks: number; rows: string; mismatches: string; keys: unknown[] | null }>(
    `SELECT v.id::text, v.started_at, v.finished_at, count(c.chunk)::int AS chunks, coalesce(sum(c.rows), 0)::text AS rows,
            coalesce(sum(c.mismatches), 0)::text AS mismatches,
            (SELECT jsonb_agg(k) FROM (SELECT k FROM tandem.verify_chunks c2, jsonb_array_elements(c2.mismatched_keys) k
                                        WHERE c2.run_id = v.id LIMIT 20) ks) AS keys
       FROM tandem.verify_runs v LEFT JOIN tandem.verify_chunks c ON c.run_id = v.id
      WHERE v.migration_id = $1 GROUP BY v.id ORDER BY v.id DESC LIMIT 1`,
    [migrationId],
  );
  const x = r.rows[0];
  if (!x) return undefined;
  return {
    runId: x.id,
    startedAt: x.started_at.toISOString(),
    finishedAt: x.finished_at?.toISOString() ?? null,
    chunks: x.chunks,
    rows: Number(x.rows),
    mismatches: Number(x.mismatches),
    mismatchedKeys: x.keys ?? [],
  };
}

/** The snapshot and its extras, in one read (a pool lends one client for it). */
export interface ObservedState extends StateSnapshot {
  extras: StateExtras;
}

export async function readObservedState(db: pg.Pool | pg.Client, opts: { schema?: string | undefined; historyLimit?: number } = {}): Promise<ObservedState> {
  const { readSnapshot } = await import('./state-snapshot.js');
  const client = 'totalCount' in db ? await db.connect() : db;
  try {
    const snapshot = await readSnapshot(client, opts);
    return { ...snapshot, extras: await readExtras(client, snapshot) };
  } finally {
    if (client !== db) (client as pg.PoolClient).release();
  }
}

/**
 * A table's backfill rate and ETA: the workers' own measurement when they record one, else the
 * rate across successive reads of the checkpoints (`rates`); no ETA without an estimate.
 */
export function backfillRateOf(
  state: ObservedState,
  migrationId: string,
  b: { table: string; rowsDone: number; estimatedRows: number; done: boolean },
  rates: RateTracker,
): { rate: number | undefined; eta: number | undefined } {
  if (b.done) return { rate: 0, eta: 0 };
  const live = state.extras.backfill[migrationId]?.tables.find((t) => t.table === b.table);
  const measured = rates.observe(`${migrationId}/${b.table}`, b.rowsDone, Date.parse(state.takenAt));
  const rate = live && live.rowsPerSecond > 0 ? live.rowsPerSecond : measured;
  const eta = live?.etaSeconds ?? (b.estimatedRows > 0 ? etaSeconds(b.rowsDone, Math.max(b.estimatedRows, b.rowsDone), rate) : undefined);
  return { rate, eta: eta ?? undefined };
}
