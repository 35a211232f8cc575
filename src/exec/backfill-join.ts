import type pg from 'pg';
import { StateError } from '../errors.js';
import type { BackfillStep } from '../plan/types.js';
import { inProgress, stateSchemaReady } from '../state/store.js';
import { runSlices } from './backfill.js';
import { isSetBased } from './backfill-sql.js';
import type { RunContext } from './executor.js';
import { sleep } from './lock-retry.js';
import type { ExecOptions, Reporter } from './options.js';

export interface JoinResult {
  migration: string;
  /** Tables whose slices this process worked on (until every slice was done). */
  tables: string[];
  /** Why nothing was joined, when nothing was. */
  note?: string;
}

/**
 * `tandem backfill run`: join the backfill of the migration in progress, from this or another
 * machine, without the runner lock. The runner (`tandem start`) owns everything else: the
 * expand steps, the revisit of skipped rows and the final sweep, the version schema. A joiner
 * only works slices (backfill-slices.ts) of a backfill step whose preceding start steps are done,
 * until every slice of it is done, then the next such step; it waits for the runner to reach the
 * backfill, for at most `waitMs`.
 */
export async function joinBackfill(client: pg.Client, args: { schema: string; options: ExecOptions; reporter: Reporter; waitMs: number }): Promise<JoinResult> {
  const row = (await stateSchemaReady(client)) ? await inProgress(client, args.schema) : undefined;
  if (!row) {
    throw new StateError(`no migration is in progress on schema "${args.schema}": there is no backfill to join`, 'start one with `tandem start <file>`', {
      code: 'not-in-progress',
    });
  }
  if (row.phase !== 'starting') return { migration: row.name, tables: [], note: `migration ${row.name} is ${row.phase.replace('_', ' ')}: its backfill is over` };
  // Named so that pg_stat_activity tells this process's workers apart (the others get the same name).
  await client.query(`SELECT set_config('application_name', $1, false)`, [`tandem-backfill pid ${process.pid}`]);
  const ctx: RunContext = { client, migrationId: row.id, schema: args.schema, migrationName: row.name, options: args.options, reporter: args.reporter };
  const tables: string[] = [];
  for (const [index, step] of row.plan.start.entries()) {
    if (step.kind !== 'backfill' || step.verifyOnly) continue;
    if (!isSetBased(step) || step.keyColumns.length === 0) {
      args.reporter.info(
        `backfill of ${step.table} cannot be joined (${step.keyColumns.length === 0 ? 'a table without a key is backfilled by one worker' : 'its plan backfills through the trigger'}): left to the runner`,
      );
      continue;
    }
    const ready = await waitForTurn(client, row.id, index, args.waitMs);
    if (ready === 'done') continue;
    if (ready === 'gone') return { migration: row.name, tables, note: 'the migration is no longer starting' };
    if (ready === 'timeout') return { migration: row.name, tables, note: `the runner did not reach the backfill of ${step.table} within ${args.waitMs} ms` };
    await runSlices(ctx, step as BackfillStep & { up: NonNullable<BackfillStep['up']> }, Math.max(1, Math.trunc(args.options.workers ?? 1)));
    tables.push(step.table);
  }
  return { migration: row.name, tables };
}

/** Wait until every start step before `index` is done ('ready'), or the step itself is ('done'). */
async function waitForTurn(client: pg.Client, migrationId: string, index: number, waitMs: number): Promise<'ready' | 'done' | 'gone' | 'timeout'> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await client.query<{ phase: string | null; before: number; self: boolean }>(
      `SELECT (SELECT phase FROM tandem.migrations WHERE id = $1) AS phase,
              (SELECT count(*)::int FROM tandem.steps WHERE migration_id = $1 AND phase = 'start' AND step_index < $2) AS before,
              EXISTS (SELECT 1 FROM tandem.steps WHERE migration_id = $1 AND phase = 'start' AND step_index = $2) AS self`,
      [migrationId, index],
    );
    const s = r.rows[0]!;
    if (s.self) return 'done';
    if (s.phase !== 'starting') return 'gone';
    if (s.before >= index) return 'ready';
    if (Date.now() >= deadline) return 'timeout';
    await sleep(250);
  }
}
