import { type Command, Option } from 'commander';
import { engineOptions, globals, output, positiveInt, withClient } from './shared.js';

/**
 * `tandem backfill run [--workers N]`: join the running backfill from this process (this or
 * another machine), without the runner lock (src/exec/backfill-join.ts).
 */
export function registerRun(backfill: Command): void {
  backfill
    .command('run')
    .description("join the migration in progress's backfill with more workers (from this or another machine); exits when every slice is done")
    .addOption(new Option('--workers <n>', 'workers of this process, each on its own connection').argParser(positiveInt).default(1))
    .addOption(new Option('--wait-for <ms>', 'how long to wait for the runner to reach the backfill').argParser(positiveInt).default(600_000))
    .addOption(new Option('--vacuum-behind <percent>', 'VACUUM the table every this many % of its rows (0 = never; default 10)').argParser(positiveInt))
    .action(async (cmd: { workers: number; waitFor: number; vacuumBehind?: number }) => {
      const g = globals();
      const opts = await engineOptions(g);
      const { defaultExecOptions } = await import('../exec/options.js');
      const { throttleExecOptions } = await import('../exec/throttle-options.js');
      const options = {
        ...defaultExecOptions,
        lockTimeoutMs: opts.lockTimeoutMs,
        lockRetryForMs: opts.lockRetryForMs,
        batchSize: opts.batchSize,
        batchDelayMs: opts.batchDelayMs,
        ...throttleExecOptions(opts),
        workers: Math.max(1, cmd.workers),
        ...(cmd.vacuumBehind !== undefined ? { vacuumBehindPercent: cmd.vacuumBehind } : {}),
      };
      const r = await withClient(async (client) =>
        (await import('../exec/backfill-join.js')).joinBackfill(client, { schema: g.schema, options, reporter: opts.reporter, waitMs: cmd.waitFor }),
      );
      const what = r.tables.length ? `worked the backfill of ${r.tables.join(', ')} until every slice was done` : `nothing to join${r.note ? `: ${r.note}` : ''}`;
      output(`backfill run (migration ${r.migration}): ${what}`, r);
    });
}
