import { type Command, Option } from 'commander';
import { StateError } from '../errors.js';
import { engineOptions, globals, output, positiveInt, withClient } from './shared.js';

/**
 * `tandem verify`: checks every row of each backfilled table of the migration in progress (see
 * src/exec/verify.ts for what exactly); exit 1 when a row differs, with its key. `complete` runs
 * the same check first unless given --no-verify.
 */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description("check that every backfilled row's new columns hold what the migration computes (chunked, throttled, resumable)")
    .option('--restart', 'start over instead of resuming an interrupted verify')
    .option('--checksums', "also store md5 checksums of each chunk's stored and recomputed new columns (about 7× slower)")
    .addOption(new Option('--chunk-rows <n>', 'rows in the first chunk (the throttle adapts it)').argParser(positiveInt))
    .action((cmd: { restart?: boolean; chunkRows?: number; checksums?: boolean }) =>
      withClient(async (client) => {
        const store = await import('../state/store.js');
        const schema = globals().schema;
        const row = (await store.stateSchemaReady(client)) ? await store.inProgress(client, schema) : undefined;
        if (!row || row.phase === 'starting' || row.phase === 'rolling_back') {
          throw new StateError(
            row
              ? `migration "${row.name}" is ${row.phase.replace('_', ' ')}: nothing to verify until its start has finished`
              : `no migration is in progress on schema "${schema}": nothing to verify`,
            row ? 'run `tandem start` with the same file to finish it, or `tandem rollback`' : 'start one with `tandem start <file>`',
            { code: row ? 'not-started' : 'not-in-progress' },
          );
        }
        const opts = await engineOptions(globals());
        const { resolveExecOptions } = await import('../exec/verify-options.js');
        const { verifyMigration, describeMismatch } = await import('../exec/verify.js');
        const report = await verifyMigration(client, row, {
          exec: resolveExecOptions(opts),
          reporter: opts.reporter,
          restart: cmd.restart === true,
          checksums: cmd.checksums === true,
          ...(cmd.chunkRows !== undefined ? { chunkRows: Math.max(1, cmd.chunkRows) } : {}),
        });
        const lines = [
          `verify ${report.migration}: ${report.rowsChecked} rows checked in ${(report.durationMs / 1000).toFixed(1)} s${report.resumed ? ' (resumed)' : ''}: ` +
            (report.ok ? 'every row holds what the migration computes' : `${report.mismatchCount} row${report.mismatchCount === 1 ? ' differs' : 's differ'}`),
          ...report.tables.map((t) => `  ${t.table}: ${t.skipped ? `skipped: ${t.skipped}` : `${t.rows} rows in ${t.chunks} chunks, ${t.mismatches} differ`}`),
          ...report.mismatches.map((m) => `  ${describeMismatch(m)}`),
          ...(report.mismatchCount > report.mismatches.length ? [`  … ${report.mismatchCount - report.mismatches.length} more`] : []),
          ...report.tables.filter((t) => t.resyncSql).map((t) => `  re-sync ${t.table} from the old columns (as the backfill does): ${t.resyncSql}`),
        ];
        output(lines.join('\n'), report);
        if (!report.ok) process.exitCode = 1;
      }),
    );
}
