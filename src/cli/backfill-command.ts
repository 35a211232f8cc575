import { type Command, InvalidArgumentError, Option } from 'commander';
import type pg from 'pg';
import { InvalidInputError, StateError } from '../errors.js';
import type { ControlChange } from '../exec/throttle-control.js';
import { globals, output, positiveInt, program as tandemProgram, withClient } from './shared.js';
import { registerRun } from './backfill-run.js';

/**
 * `tandem backfill pause|resume|set|status`: live controls of the running backfill, from another
 * shell. They write tandem.backfill_controls (src/exec/throttle-control.ts); every worker's
 * throttle reads it between batches. Each subcommand is registered by its own function below,
 * so another (`run`) is one more line in registerBackfillCommands.
 */
export function registerBackfillCommands(program: Command): void {
  addThrottleOptions(program);
  const backfill = program.command('backfill').description('pause, resume or re-pace the running backfill, from another shell; show its progress');
  registerPause(backfill);
  registerResume(backfill);
  registerSet(backfill);
  registerStatus(backfill);
  registerRun(backfill);
}

/** Global (so that `start`, `migrate`… take them), read into the engine options by shared.ts. */
function addThrottleOptions(program: Command): void {
  program
    .addOption(new Option('--target-batch-ms <ms>', 'backfill: batch duration the adaptive batch size aims at (default 100)').argParser(atLeastOne))
    .addOption(new Option('--max-replica-lag <ms>', "backfill: back off while a replica's replay lag exceeds this").argParser(positiveInt))
    .addOption(new Option('--throttle-sql <query>', 'backfill: a query returning a boolean, run at most once a second; true = slow down'))
    .addOption(new Option('--throttle-url <url>', 'backfill: an http(s) URL fetched at most once a second; a non-2xx answer = slow down').argParser(httpUrl));
}

function atLeastOne(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected an http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('expected an http or https URL');
  return value;
}

/** The migration in progress on the target schema, or exit 2 (nothing is created, not even the state schema). */
async function migrationInProgress(client: pg.Client, verb: string): Promise<{ id: string; name: string; plan: import('../plan/types.js').Plan }> {
  const store = await import('../state/store.js');
  const schema = globals().schema;
  const row = (await store.stateSchemaReady(client)) ? await store.inProgress(client, schema) : undefined;
  if (!row) {
    throw new StateError(`no migration is in progress on schema "${schema}": there is no backfill to ${verb}`, 'start one with `tandem start <file>`', {
      code: 'not-in-progress',
    });
  }
  await (await import('../exec/throttle-control.js')).ensureControlTables(client);
  return { id: row.id, name: row.name, plan: row.plan };
}

async function change(verb: string, c: ControlChange, describe: (name: string) => string): Promise<void> {
  await withClient(async (client) => {
    const m = await migrationInProgress(client, verb);
    const { changeControls } = await import('../exec/throttle-control.js');
    const controls = await changeControls(client, m.id, c);
    output(describe(m.name), { migration: m.name, controls });
  });
}

function registerPause(backfill: Command): void {
  backfill
    .command('pause')
    .description('pause the backfill after its current batch (it holds no transaction and no lock while paused)')
    .action(() => change('pause', { paused: true }, (name) => `backfill of ${name} paused: workers stop after their current batch (\`tandem backfill resume\` to go on)`));
}

function registerResume(backfill: Command): void {
  backfill
    .command('resume')
    .description('resume a paused backfill')
    .action(() => change('resume', { paused: false }, (name) => `backfill of ${name} resumed`));
}

function registerSet(backfill: Command): void {
  backfill
    .command('set')
    .description('change the pacing of the running backfill: --batch-size pins the size; --target-batch-ms alone lets the throttle size batches again')
    .option('--delay <ms>', 'pause between batches, in ms', positiveInt)
    .option('--adaptive', 'let the throttle size batches again (clears a pinned --batch-size)')
    .action(async (cmd: { delay?: number; adaptive?: boolean }) => {
      // --batch-size and --target-batch-ms are also global options, and commander gives a global
      // option's value to the program wherever it is written: read them from there.
      const batchSize = tandemProgram.getOptionValueSource('batchSize') === 'cli' ? globals().batchSize : undefined;
      const targetBatchMs =
        tandemProgram.getOptionValueSource('targetBatchMs') === 'cli' ? (tandemProgram.opts<{ targetBatchMs?: number }>().targetBatchMs ?? undefined) : undefined;
      const c = setChange({ batchSize, delayMs: cmd.delay, targetBatchMs, adaptive: cmd.adaptive === true });
      await change('re-pace', c, (name) => `backfill of ${name}: ${describeChange(c)}`);
    });
}

/** The change `set` asks for, checked before anything is read or written. */
export function setChange(a: { batchSize: number | undefined; delayMs: number | undefined; targetBatchMs: number | undefined; adaptive: boolean }): ControlChange {
  if (a.batchSize === undefined && a.delayMs === undefined && a.targetBatchMs === undefined && !a.adaptive) {
    throw new InvalidInputError('nothing to set', { field: 'tandem backfill set' }, 'give --batch-size <rows>, --delay <ms>, --target-batch-ms <ms> or --adaptive', {
      code: 'usage',
    });
  }
  if (a.batchSize !== undefined && a.batchSize < 1) {
    throw new InvalidInputError(`batch size ${a.batchSize} is not a positive number of rows`, { field: '--batch-size' }, 'give at least 1', { code: 'usage' });
  }
  if (a.batchSize !== undefined && a.adaptive) {
    throw new InvalidInputError('--batch-size pins the size and --adaptive unpins it: give one of them', { field: '--adaptive' }, undefined, { code: 'usage' });
  }
  return {
    ...(a.batchSize !== undefined ? { batchSize: a.batchSize } : {}),
    ...(a.delayMs !== undefined ? { delayMs: a.delayMs } : {}),
    ...(a.targetBatchMs !== undefined ? { targetBatchMs: a.targetBatchMs } : {}),
    ...((a.targetBatchMs !== undefined && a.batchSize === undefined) || a.adaptive ? { unpinBatchSize: true } : {}),
  };
}

function describeChange(c: ControlChange): string {
  const parts: string[] = [];
  if (c.batchSize !== undefined) parts.push(`batch size pinned at ${c.batchSize} rows`);
  if (c.unpinBatchSize) parts.push('batch size adaptive');
  if (c.targetBatchMs !== undefined) parts.push(`target batch ${c.targetBatchMs} ms`);
  if (c.delayMs !== undefined) parts.push(`delay ${c.delayMs} ms between batches`);
  return `${parts.join(', ')} (workers take it within a second)`;
}

function registerStatus(backfill: Command): void {
  backfill
    .command('status')
    .description("the backfill's settings, pacing per worker, rate and ETA")
    .action(() =>
      withClient(async (client) => {
        const m = await migrationInProgress(client, 'show');
        const { backfillProgress, describeProgress } = await import('../exec/throttle-control.js');
        const p = await backfillProgress(client, m.id, m.plan);
        output(renderStatus(m.name, p, describeProgress), { migration: m.name, ...p });
      }),
    );
}

function renderStatus(
  name: string,
  p: import('../exec/throttle-control.js').BackfillProgress,
  describe: (t: import('../exec/throttle-control.js').TableProgress, paused: boolean) => string,
): string {
  const c = p.controls;
  const settings = [
    c.paused ? 'PAUSED' : 'running',
    c.batchSize !== null ? `batch size pinned at ${c.batchSize}` : 'batch size adaptive',
    ...(c.targetBatchMs !== null ? [`target ${c.targetBatchMs} ms`] : []),
    ...(c.delayMs !== null ? [`delay ${c.delayMs} ms`] : []),
  ];
  const lines = [`migration ${name}: backfill ${settings.join(', ')}${c.updatedBy ? ` (last changed by ${c.updatedBy} at ${c.updatedAt})` : ''}`];
  if (p.tables.length === 0) lines.push('  (no table to backfill)');
  for (const t of p.tables) {
    lines.push(`  ${describe(t, c.paused)}`);
    for (const s of t.slices) {
      const state = s.finished ? 'finished' : s.paused ? 'paused' : `${Math.round(s.rowsPerSecond)} rows/s`;
      lines.push(
        `    slice ${s.slice}: ${state}, batch ${s.batchSize} rows, delay ${s.delayMs} ms${s.lastBatchMs !== null ? `, last batch ${Math.round(s.lastBatchMs)} ms` : ''}` +
          `${s.backoffReason ? `, backing off: ${s.backoffReason}` : ''}, updated ${Math.round(s.ageSeconds)}s ago`,
      );
    }
  }
  return lines.join('\n');
}
