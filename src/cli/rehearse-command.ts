import { stat } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolveDatabaseUrl } from '../db/url.js';
import { InvalidInputError } from '../errors.js';
import type { Migration } from '../migration/schema.js';
import { engineOptions, globals, loadMigrationFile, output, positiveInt, withClient } from './shared.js';

/**
 * `tandem rehearse <file|dir>`: the migration run for real on a scratch copy of the live schema
 * (no live rows: synthetic ones following the live statistics) under traffic of both versions,
 * through start → complete and, on a second copy, start → rollback; every step timed, its lock,
 * and the clients' worst latency. Only reads the live database (src/rehearse/run.ts).
 */
function positiveScale(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 10) throw new InvalidArgumentError('expected a number above 0 and at most 10 (e.g. 0.1)');
  return n;
}

export function registerRehearseCommand(program: Command): void {
  program
    .command('rehearse <file|dir>')
    .description('run the migration on a synthetic copy of the live schema under traffic of both versions, and time every step (only reads the live database)')
    .addOption(new Option('--scale <factor>', 'rows of the copy: the live row counts × factor').argParser(positiveScale).default(1))
    .option('--scratch-url <url>', 'server for the scratch copy (a database is created there and dropped after); default: an embedded PostgreSQL')
    .addOption(new Option('--clients <n>', 'application clients per version').argParser(positiveInt).default(2))
    .addOption(new Option('--both-versions-ms <ms>', 'time both versions run between start and complete').argParser(positiveInt).default(1000))
    .action(async (target: string, cmd: { scale: number; scratchUrl?: string; clients: number; bothVersionsMs: number }) => {
      const liveUrl = resolveDatabaseUrl({ databaseUrl: globals().databaseUrl });
      if (!liveUrl)
        throw new InvalidInputError('no database configured', {}, 'pass --database-url, or set TANDEM_DATABASE_URL or DATABASE_URL: the live database whose schema is copied', {
          code: 'no-database',
        });
      const migrations = await migrationsOf(target);
      if (migrations.length === 0) {
        output(`${target}: no pending migration to rehearse`, { target, migrations: [], runs: [] });
        return;
      }
      const opts = await engineOptions(globals());
      const { rehearse } = await import('../rehearse/run.js');
      const report = await rehearse({
        liveUrl,
        schema: opts.schema,
        migrations,
        scale: cmd.scale,
        scratchUrl: cmd.scratchUrl,
        clientsPerVersion: cmd.clients,
        bothVersionsMs: cmd.bothVersionsMs,
        engine: { lockTimeoutMs: opts.lockTimeoutMs, lockRetryForMs: opts.lockRetryForMs, batchSize: opts.batchSize, batchDelayMs: opts.batchDelayMs },
        log: (m) => process.stderr.write(`${m}\n`),
      });
      output((await import('../rehearse/render.js')).renderRehearsal(report), report);
      if (report.runs.some((r) => r.error !== null || r.traffic.failedStatements > 0)) process.exitCode = 1;
    });
}

/** The file, or the pending files of the directory in file-name order (pending: not in the live history). */
async function migrationsOf(target: string): Promise<{ file: string; migration: Migration }[]> {
  if (!(await stat(target).catch(() => undefined))?.isDirectory()) return [{ file: target, migration: await loadMigrationFile(target) }];
  const files = await (await import('../pipeline/directory.js')).readMigrationDirectory(target);
  const applied = await withClient(async (client) => (await import('../rehearse/pending.js')).appliedMigrationNames(client, globals().schema));
  return files.filter((f) => !applied.has(f.name)).map((f) => ({ file: f.file, migration: f.migration }));
}
