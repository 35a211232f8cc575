import type { Command } from 'commander';
import { InvalidInputError } from '../errors.js';
import type { MigrateResult } from '../pipeline/migrate.js';
import { engineOptions, globals, output, withClient } from './shared.js';

/**
 * The pipeline verbs (src/pipeline/): `migrate <dir>` before the deploy, `latest` for the new
 * app's search_path, `history`, `baseline <name>` to adopt an existing database, `pull <dir>`.
 * Contract (other tools rely on it): exit 0 success (nothing pending included), 1 a step failed
 * (run migrate again to resume), 2 refused with nothing changed; --json prints one document.
 */
export function registerPipelineCommands(program: Command): void {
  program
    .command('migrate <dir>')
    .description("before the deploy: apply the directory's pending migrations in file-name order, leaving the last one active for the new app")
    .option('--complete', 'complete the last migration too (no old app left running)')
    .option('--until <name>', 'stop after this migration (its name or file name)')
    .option('--expect-one', 'refuse (exit 2, nothing changed) when more than one file is pending')
    .option('--allow-out-of-order', 'apply pending files that sort before the last applied one instead of refusing')
    .action(async (dir: string, cmd: { complete?: boolean; until?: string; expectOne?: boolean; allowOutOfOrder?: boolean }) => {
      const [{ readMigrationDirectory }, { migrateDirectory }] = await Promise.all([import('../pipeline/directory.js'), import('../pipeline/migrate.js')]);
      const files = await readMigrationDirectory(dir);
      const result = await withClient(async (client) =>
        migrateDirectory(client, files, {
          ...(await engineOptions()),
          complete: cmd.complete === true,
          until: cmd.until,
          expectOne: cmd.expectOne === true,
          allowOutOfOrder: cmd.allowOutOfOrder === true,
        }),
      );
      output(describeMigrate(dir, result), { directory: dir, ...result });
    });

  program
    .command('latest [what]')
    .description("print the latest version schema (or, with `migration`, its migration name), for the new app's search_path")
    .option('--dir <dir>', 'from the migration files alone, without a database: what `migrate` would leave')
    .action(async (what: string | undefined, cmd: { dir?: string }) => {
      const kind = what ?? 'schema';
      if (kind !== 'schema' && kind !== 'migration') {
        throw new InvalidInputError(`tandem latest ${kind}: expected "schema" or "migration"`, {}, 'run `tandem latest` (the version schema) or `tandem latest migration`', {
          code: 'usage',
        });
      }
      const { latestFromDirectory, latestVersion } = await import('../pipeline/latest.js');
      const schema = globals().schema;
      const latest =
        cmd.dir !== undefined
          ? latestFromDirectory(await (await import('../pipeline/directory.js')).readMigrationDirectory(cmd.dir), schema)
          : await withClient((client) => latestVersion(client, schema));
      output(kind === 'schema' ? latest.versionSchema : (latest.migration ?? ''), { schema, ...latest, source: cmd.dir !== undefined ? 'directory' : 'database' });
    });

  program
    .command('history')
    .description('the migrations applied to the schema: file, checksums, who, when, and how long each phase took')
    .action(() =>
      withClient(async (client) => {
        const { describeHistory, historyReport } = await import('../pipeline/history.js');
        const report = await historyReport(client, globals().schema);
        output(describeHistory(report), report);
      }),
    );

  program
    .command('baseline <name>')
    .description('adopt an existing database: record its current schema as migration <name> and create its version schema (no change to tables)')
    .action(async (name: string) => {
      const { baseline } = await import('../pipeline/baseline.js');
      const r = await withClient(async (client) => baseline(client, name, await engineOptions()));
      output(
        `${r.alreadyDone ? 'baseline was already recorded' : 'baseline recorded'}: migration ${r.migration}, version schema ${r.versionSchema} (${r.tables} tables)\n` +
          `  point the current app at it: SET search_path TO ${r.versionSchema}`,
        r,
      );
    });

  program
    .command('pull <dir>')
    .description("write the history's migrations that no file of <dir> gives as files there (never overwrites a file)")
    .action(async (dir: string) => {
      const { pull } = await import('../pipeline/pull.js');
      const r = await withClient((client) => pull(client, dir, globals().schema));
      output(r.written.length ? r.written.map((w) => `wrote ${w.file} (migration ${w.migration})`).join('\n') : `nothing to pull: every applied migration has a file in ${dir}`, r);
    });
}

function describeMigrate(dir: string, r: MigrateResult): string {
  const lines: string[] = [];
  for (const a of r.actions) lines.push(`${a.kind === 'start' ? 'started' : 'completed'} ${a.migration} (${a.file})${a.resumed ? ', resumed' : ''}`);
  if (r.actions.length === 0) lines.push(`nothing to migrate: every migration of ${dir} is applied (${r.files} files)`);
  if (r.leftActive) lines.push(`left active: ${r.leftActive}; complete it after the deploy (the next \`tandem migrate\` does, or \`tandem complete\`)`);
  if (r.pending.length) lines.push(`still pending (after --until): ${r.pending.join(', ')}`);
  if (r.notInDirectory.length) lines.push(`applied but not in ${dir}: ${r.notInDirectory.join(', ')} (\`tandem pull ${dir}\` writes them)`);
  lines.push(`latest version schema: ${r.latest.versionSchema}  (export PGOPTIONS="-c search_path=${r.latest.versionSchema}")`);
  return lines.join('\n');
}
