import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type pg from 'pg';
import { resolveDatabaseUrl } from '../db/url.js';
import { InvalidInputError } from '../errors.js';
import { defaultExecOptions } from '../exec/options.js';

/**
 * What every command shares: the program with its global options, the database connection, the
 * engine's options from the globals, and the output (human text, or one JSON document with --json).
 * Each family of commands registers itself from its own file (`register…Commands(program)`).
 */

// Each command loads what it needs when it runs (the driver, zod, the engine, the parser…), so
// that a command pays only for its own modules: `tandem lint` in CI starts in a fraction of the time.
export const engine = () => import('../engine/lifecycle.js');
export const loadMigrationFile = async (file: string) => (await import('../migration/load.js')).loadMigrationFile(file);

export interface GlobalOptions {
  databaseUrl?: string;
  schema: string;
  lockTimeout: number;
  lockRetryFor: number;
  batchSize: number;
  batchDelay: number;
  wait?: boolean;
  json?: boolean;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

/** The package's version (package.json is two levels up from both src/cli and dist/cli). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const program = new Command('tandem')
  .description('Zero-downtime schema migrations for PostgreSQL: old and new application versions run in tandem.')
  .version(packageVersion(), '-V, --version', 'print the version of tandem')
  .option('--database-url <url>', 'connection string (else TANDEM_DATABASE_URL, else DATABASE_URL)')
  .option('--schema <name>', 'target schema', 'public')
  .addOption(
    new Option('--lock-timeout <ms>', 'lock_timeout of each DDL statement: the longest stall tandem adds to a query')
      .argParser(positiveInt)
      .default(defaultExecOptions.lockTimeoutMs),
  )
  .addOption(new Option('--lock-retry-for <ms>', 'total time a step retries on lock timeouts before giving up').argParser(positiveInt).default(defaultExecOptions.lockRetryForMs))
  .addOption(new Option('--batch-size <rows>', 'rows per backfill batch').argParser(positiveInt).default(defaultExecOptions.batchSize))
  .addOption(new Option('--batch-delay <ms>', 'pause between backfill batches').argParser(positiveInt).default(defaultExecOptions.batchDelayMs))
  .option('--wait', 'wait for another runner on the same schema instead of failing')
  .option('--json', 'print one JSON document on stdout and nothing else there')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

export function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

export async function engineOptions(g: GlobalOptions = globals()) {
  const { consoleReporter } = await import('./reporter.js');
  return {
    schema: g.schema,
    wait: g.wait === true,
    lockTimeoutMs: g.lockTimeout,
    lockRetryForMs: g.lockRetryFor,
    batchSize: Math.max(1, g.batchSize),
    batchDelayMs: g.batchDelay,
    reporter: consoleReporter(),
  };
}

export async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = resolveDatabaseUrl({ databaseUrl: globals().databaseUrl });
  if (!url) {
    throw new InvalidInputError('no database configured', {}, 'pass --database-url, or set TANDEM_DATABASE_URL or DATABASE_URL (`tandem demo` needs none)');
  }
  const { connect } = await import('../db/connection.js');
  const client = await connect(url);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function output(human: string, json: unknown): void {
  if (globals().json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else process.stdout.write(`${human}\n`);
}
