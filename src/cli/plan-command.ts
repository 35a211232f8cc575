import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type pg from 'pg';
import type { Calibration } from '../estimate/calibrate.js';
import type { PlanEstimate } from '../estimate/estimator.js';
import { InvalidInputError } from '../errors.js';
import type { Migration } from '../migration/schema.js';
import type { Plan } from '../plan/types.js';
import { engine, engineOptions, globals, loadMigrationFile, output, withClient } from './shared.js';

/**
 * `tandem plan <file|dir>`: every statement of each phase with its lock (src/cli/render-plan.ts),
 * then per step the rows it touches (live statistics), an estimated duration from a rate
 * measured on this server, and a total per phase (src/estimate/). Changes nothing in the database:
 * the statistics are one read-only snapshot, the calibration runs in rolled-back transactions
 * and on TEMP objects. `--no-estimate` skips the calibration.
 *
 * With a directory, the pending files (not in the history) are planned in file-name order. Each
 * is planned against the live schema: a file that needs what an earlier pending file creates
 * cannot be planned there, and is reported so (`tandem rehearse <dir>` applies them in order on
 * a scratch copy); the estimates of later files assume the earlier ones applied, at today's row counts.
 */
export function registerPlanCommand(program: Command): void {
  program
    .command('plan <file|dir>')
    .description('show every statement each phase will run, its lock, the rows it touches and an estimated duration (changes nothing)')
    .option('--no-estimate', 'skip the calibration: locks and rows only, no durations (fast, changes nothing either way)')
    .action(async (target: string, cmd: { estimate: boolean }) => {
      const isDir = (await stat(target).catch(() => undefined))?.isDirectory() === true;
      if (isDir) return planDirectory(target, cmd.estimate);
      return planFile(target, cmd.estimate);
    });
}

interface Planned {
  plan: Plan;
  estimate: PlanEstimate;
  calibration: Calibration | undefined;
}

async function planOne(client: pg.Client, migration: Migration, calibrate: boolean, notes: string[], calibration?: Calibration): Promise<Planned> {
  const opts = await engineOptions(globals());
  const plan = await (await engine()).plan(client, migration, opts);
  const { estimateOnDatabase } = await import('../estimate/run.js');
  const r = await estimateOnDatabase(client, plan, {
    schema: opts.schema,
    batchSize: opts.batchSize,
    calibrate,
    lockTimeoutMs: opts.lockTimeoutMs,
    lockRetryForMs: opts.lockRetryForMs,
    notes,
    ...(calibration ? { calibration } : {}),
  });
  return { plan, estimate: r.estimate, calibration: r.calibration };
}

async function planFile(file: string, calibrate: boolean): Promise<void> {
  const migration = await loadMigrationFile(file);
  const r = await withClient((client) => planOne(client, migration, calibrate, []));
  const { renderPlan, renderEstimate } = await import('./render-plan.js');
  // --json: the plan's own document (as before), with the estimate added under `estimate`.
  output(`${renderPlan(r.plan)}\n\n${renderEstimate(r.estimate, r.calibration)}`, { ...r.plan, estimate: r.estimate, calibration: r.calibration ?? null });
}

interface DirectoryEntry {
  file: string;
  name: string;
  pending: boolean;
  planned: boolean;
  reason?: string;
  plan?: Plan;
  estimate?: PlanEstimate;
}

async function planDirectory(dir: string, calibrate: boolean): Promise<void> {
  const { readMigrationDirectory } = await import('../pipeline/directory.js');
  const files = await readMigrationDirectory(dir);
  const entries: DirectoryEntry[] = [];
  let calibration: Calibration | undefined;
  await withClient(async (client) => {
    const applied = await (await import('../rehearse/pending.js')).appliedMigrationNames(client, globals().schema);
    const earlier: string[] = [];
    for (const f of files) {
      if (applied.has(f.name)) {
        entries.push({ file: f.fileName, name: f.name, pending: false, planned: false, reason: 'already in the history' });
        continue;
      }
      const notes = earlier.length ? [`planned against the live schema; assumes the earlier pending files (${earlier.join(', ')}) applied first, at today's row counts`] : [];
      try {
        const r = await planOne(client, f.migration, calibrate, notes, calibration);
        calibration = r.calibration ?? calibration;
        entries.push({ file: f.fileName, name: f.name, pending: true, planned: true, plan: r.plan, estimate: r.estimate });
      } catch (err) {
        // A later file may need what an earlier pending one creates: it cannot be planned against today's schema.
        if (!(err instanceof InvalidInputError) || earlier.length === 0) throw err;
        entries.push({
          file: f.fileName,
          name: f.name,
          pending: true,
          planned: false,
          reason: `cannot be planned against the live schema (${err.problem}); it probably needs what ${earlier.join(', ')} creates: \`tandem rehearse ${dir}\` applies them in order on a scratch copy`,
        });
      }
      earlier.push(f.fileName);
    }
  });
  const { renderPlan, renderEstimate, formatSeconds } = await import('./render-plan.js');
  const pending = entries.filter((e) => e.pending);
  const lines = [`${dir}: ${files.length} migration files, ${pending.length} pending`];
  for (const e of entries) {
    if (!e.pending) lines.push(`\n== ${e.file} (${e.name}): ${e.reason}`);
    else if (!e.planned) lines.push(`\n== ${e.file} (${e.name}): not planned: ${e.reason}`);
    else lines.push(`\n== ${e.file} (${e.name})\n${renderPlan(e.plan!)}\n\n${renderEstimate(e.estimate!, calibration)}`);
  }
  const total = pending.reduce((t, e) => t + (e.estimate?.start.totalSeconds ?? 0) + (e.estimate?.complete.totalSeconds ?? 0), 0);
  if (pending.length) lines.push(`\nall pending files, start + complete: ${calibrate ? formatSeconds(total) : 'not estimated (--no-estimate)'}`);
  output(lines.join('\n'), { directory: dir, migrations: entries, totalSeconds: calibrate ? total : null, calibration: calibration ?? null });
}
