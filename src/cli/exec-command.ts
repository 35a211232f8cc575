import type { Command } from 'commander';
import { globals, output, withClient } from './shared.js';

/**
 * Registers `tandem exec <file.sql>`: plain SQL (an ALTER COLUMN … TYPE by hand, a data fix, a
 * function…) run in one transaction beside Tandem's version schemas, rebuilding the version views
 * over the tables whose column types it changes. Exit 0 done, 1 the SQL failed (rolled back,
 * nothing changed), 2 a bad file or a migration in progress on those tables (nothing run).
 */
export function registerExecCommands(program: Command): void {
  program
    .command('exec <file>')
    .description('run a SQL file in one transaction, rebuilding the version views over the columns whose types it changes')
    .addHelpText(
      'after',
      '\nFor DDL outside migrations: PostgreSQL refuses ALTER COLUMN … TYPE on a column a version view shows\n' +
        '("cannot alter type of a column used by a view or rule"); exec drops those views, runs the file and\n' +
        'creates them again, all in one transaction under --lock-timeout (retried up to --lock-retry-for).',
    )
    .action((file: string) =>
      withClient(async (client) => {
        const g = globals();
        const { execSqlFile } = await import('../pipeline/exec-sql.js');
        const r = await execSqlFile(client, file, { schema: g.schema, lockTimeoutMs: g.lockTimeout, lockRetryForMs: g.lockRetryFor, wait: g.wait === true });
        const views = r.rebuiltViews.length ? `; version views rebuilt: ${r.rebuiltViews.join(', ')}` : '';
        output(`${file}: ${r.statements} statement${r.statements === 1 ? '' : 's'} run in one transaction (${r.durationMs} ms)${views}`, r);
      }),
    );
}
