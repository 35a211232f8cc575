import type pg from 'pg';
import { type BackfillProgress, backfillProgressIfTracked } from '../exec/throttle-control.js';
import { history, inProgress, irreversibleCompleteStepDone, type MigrationRow, stateSchemaReady } from '../state/store.js';

/** A command that moves the migration in progress on from where it is. */
export type NextCommand = 'start' | 'complete' | 'rollback';

export interface StatusReport {
  schema: string;
  initialized: boolean;
  inProgress: null | {
    name: string;
    phase: string;
    versionSchema: string;
    previousVersionSchema: string | null;
    steps: { phase: string; done: number; total: number };
    backfill: { table: string; rowsDone: number; batches: number; done: boolean }[];
    /**
     * The backfill's live controls (`tandem backfill pause|resume|set`: paused, settings) and, per
     * table, rows done, estimated total, the rate the throttle measured, the ETA and each worker's
     * pacing (src/exec/throttle-control.ts); null on an install without those tables.
     */
    backfillProgress: BackfillProgress | null;
    lastError: unknown;
    startedAt: string | null;
    /**
     * The commands that can move it on from here: a failed or interrupted command is run again, or
     * the migration is rolled back — until complete has passed its point of no return.
     */
    next: NextCommand[];
  };
  latestVersionSchema: string | null;
  history: { name: string; phase: string; versionSchema: string; startedAt: string | null; completedAt: string | null; rolledBackAt: string | null }[];
}

export async function status(client: pg.Client, schema: string): Promise<StatusReport> {
  if (!(await stateSchemaReady(client))) {
    return { schema, initialized: false, inProgress: null, latestVersionSchema: null, history: [] };
  }
  const active = await inProgress(client, schema);
  const past = await history(client, schema);
  let current: StatusReport['inProgress'] = null;
  if (active) {
    const phase = active.phase === 'completing' ? 'complete' : active.phase === 'rolling_back' ? 'rollback' : 'start';
    const done = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM tandem.steps WHERE migration_id = $1 AND phase = $2`, [active.id, phase]);
    const bf = await client.query<{ table_name: string; rows_done: string; batches: string; done: boolean }>(
      `SELECT table_name, sum(rows_done)::text AS rows_done, sum(batches)::text AS batches, bool_and(done) AS done
         FROM tandem.backfill_checkpoints WHERE migration_id = $1 GROUP BY table_name ORDER BY table_name`,
      [active.id],
    );
    current = {
      name: active.name,
      phase: active.phase,
      versionSchema: active.version_schema,
      previousVersionSchema: active.previous_version_schema,
      steps: { phase, done: done.rows[0]!.n, total: active.plan[phase].length },
      backfill: bf.rows.map((b) => ({ table: b.table_name, rowsDone: Number(b.rows_done), batches: Number(b.batches), done: b.done })),
      backfillProgress: await backfillProgressIfTracked(client, active.id, active.plan),
      lastError: active.last_error,
      startedAt: active.started_at?.toISOString() ?? null,
      next: await nextCommands(client, active),
    };
  }
  const latest = past.find((m) => m.phase === 'completed');
  return {
    schema,
    initialized: true,
    inProgress: current,
    latestVersionSchema: latest?.version_schema ?? null,
    history: past.map((m) => ({
      name: m.name,
      phase: m.phase,
      versionSchema: m.version_schema,
      startedAt: m.started_at?.toISOString() ?? null,
      completedAt: m.completed_at?.toISOString() ?? null,
      rolledBackAt: m.rolled_back_at?.toISOString() ?? null,
    })),
  };
}

async function nextCommands(client: pg.Client, row: MigrationRow): Promise<NextCommand[]> {
  switch (row.phase) {
    case 'starting':
      return ['start', 'rollback'];
    case 'active':
      return ['complete', 'rollback'];
    case 'completing':
      return (await irreversibleCompleteStepDone(client, row)) ? ['complete'] : ['complete', 'rollback'];
    case 'rolling_back':
      return ['rollback'];
    default:
      return [];
  }
}
