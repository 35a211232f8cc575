import type { Command } from 'commander';

interface Globals {
  databaseUrl?: string;
  lockTimeout: number;
  json?: boolean;
}

/**
 * Registers `tandem trace <file.sql>`: run the file in one transaction on a throwaway database
 * (an embedded PostgreSQL by default; with --database-url, inside BEGIN … ROLLBACK there) and
 * report per statement the locks taken, what they block, whether a table was rewritten, and how
 * long each lock was held. Exit 0 when every statement ran, 1 when one failed, 2 on bad input.
 */
export function registerTraceCommand(program: Command): void {
  program
    .command('trace <file>')
    .description('run a SQL file in a rolled-back transaction and report the locks each statement takes, rewrites, and lock hold times')
    .option('--setup <file>', "SQL run first and committed in the scratch database, not traced (e.g. your schema's DDL)")
    .action(async (file: string, cmd: { setup?: string }) => {
      const g = program.opts<Globals>();
      // Loaded here, not at startup: every tandem command would otherwise pay for them.
      const [{ renderTrace }, { runTrace }] = await Promise.all([import('../trace/render.js'), import('../trace/run.js')]);
      // Only an explicit --database-url: tracing never picks up DATABASE_URL from the environment.
      const run = await runTrace({
        file,
        ...(cmd.setup !== undefined ? { setupFile: cmd.setup } : {}),
        ...(g.databaseUrl !== undefined ? { databaseUrl: g.databaseUrl } : {}),
        lockTimeoutMs: g.lockTimeout,
        log: (line) => {
          if (!g.json) process.stderr.write(`${line}\n`);
        },
      });
      if (g.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
      else process.stdout.write(`${renderTrace(run)}\n`);
      const failed = run.statements.find((s) => s.status === 'failed');
      if (failed) {
        if (!g.json) {
          const missing = failed.sqlstate === '42P01' || failed.sqlstate === '42703' || failed.sqlstate === '42704';
          process.stderr.write(
            `error: ${failed.where}: ${failed.reason ?? 'failed'}\n` +
              (missing ? '  hint: the file expects objects the trace database lacks: pass --setup <your schema.sql>, or --database-url of a copy of your database\n' : ''),
          );
        }
        process.exitCode = 1;
      }
    });
}
