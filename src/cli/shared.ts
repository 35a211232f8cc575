import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type pg from 'pg';
import { resolveDatabaseUrl } from '../db/url.js';
import { InvalidInputError } from '../errors.js';
import { defaultExecOptions, type Reporter } from '../exec/options.js';
import { emitEvent } from '../observe/events.js';
import { type ThrottleCliOptions, throttleOptionsFromCli } from '../exec/throttle-options.js';

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
  metricsPort?: number;
  logFormat?: 'text' | 'json';
  onEvent?: string;
  webhook?: string;
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
  .addOption(new Option('--metrics-port <port>', 'serve Prometheus metrics on http://127.0.0.1:<port>/metrics while the command runs').argParser(positiveInt))
  .addOption(new Option('--log-format <format>', 'stderr as human text or one JSON object per event (pino)').choices(['text', 'json']).default('text'))
  .option('--on-event <command>', 'run a shell command on each phase change, failure and completion (JSON payload on stdin)')
  .option('--webhook <url>', 'POST a JSON payload to this URL on each phase change, failure and completion')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

export function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

// Observers (structured logs, hooks, the runner's metrics) start before any command's action.
program.hook('preAction', async (_root, action) => {
  const g = globals();
  if (g.logFormat !== 'json' && !g.onEvent && !g.webhook && g.metricsPort === undefined) return;
  const { beginObservability } = await import('./observability.js');
  await beginObservability(action, g, (m) => process.stderr.write(`${m}\n`));
});

/** The terminal's reporter, or with `--log-format json` the structured logger's. */
async function reporterFor(g: GlobalOptions): Promise<Reporter> {
  if (g.logFormat === 'json') {
    const { jsonLogger, jsonReporter } = await import('../observe/logger.js');
    return observed(jsonReporter(jsonLogger()));
  }
  const { consoleReporter } = await import('./reporter.js');
  return observed(consoleReporter());
}

/** A reporter whose backfill progress also goes to the event bus (metrics, logs). */
function observed(inner: Reporter): Reporter {
  return {
    ...inner,
    backfillProgress(table, done, estimated, finished) {
      inner.backfillProgress(table, done, estimated, finished);
      emitEvent({ type: 'backfill-progress', table, rowsDone: done, estimatedRows: estimated, finished });
    },
  };
}

export async function engineOptions(g: GlobalOptions = globals()) {
  return {
    schema: g.schema,
    wait: g.wait === true,
    lockTimeoutMs: g.lockTimeout,
    lockRetryForMs: g.lockRetryFor,
    batchSize: Math.max(1, g.batchSize),
    batchDelayMs: g.batchDelay,
    ...throttleOptionsFromCli(program.opts<ThrottleCliOptions>()),
    reporter: await reporterFor(g),
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

let lastResult: unknown;

/** The JSON result of the command that just ran (for the command-done event). */
export function commandResult(): unknown {
  return lastResult;
}

export function output(human: string, json: unknown): void {
  lastResult = json;
  if (globals().json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else process.stdout.write(`${human}\n`);
}
