import type { Command } from 'commander';
import { resolveDatabaseUrl } from '../db/url.js';
import { InvalidInputError } from '../errors.js';
import { emitEvent } from '../observe/events.js';
import type { RunnerMetricsServer } from '../observe/metrics-server.js';

/**
 * The run's observers, started before a command's action from the global options and ended
 * after it: `--log-format json` (pino on stderr), `--on-event` / `--webhook` hooks, and the
 * runner's `--metrics-port`. Loaded only when one of them is asked for.
 */
export interface ObservabilityOptions {
  databaseUrl?: string | undefined;
  schema: string;
  metricsPort?: number | undefined;
  logFormat?: 'text' | 'json' | undefined;
  onEvent?: string | undefined;
  webhook?: string | undefined;
}

interface Active {
  command: string;
  finishers: (() => Promise<void> | void)[];
  metrics?: RunnerMetricsServer;
}

let active: Active | undefined;

/** The name a command is known by in events: `start`, `backfill run`, … */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export async function beginObservability(action: Command, o: ObservabilityOptions, warn: (m: string) => void): Promise<void> {
  const command = commandPath(action);
  const run: Active = { command, finishers: [] };
  let info = (m: string): void => void process.stderr.write(`${m}\n`);
  active = run;
  if (o.logFormat === 'json') {
    const { jsonLogger, logEvents } = await import('../observe/logger.js');
    const logger = jsonLogger();
    run.finishers.push(logEvents(logger));
    warn = (m) => logger.warn({ event: 'warning' }, m);
    info = (m) => logger.info({ event: 'info' }, m);
  }
  if (o.onEvent || o.webhook) {
    const { startHooks } = await import('../observe/hooks.js');
    const hooks = startHooks(command, { command: o.onEvent, webhook: o.webhook, warn });
    run.finishers.push(async () => {
      await hooks.flush();
      hooks.stop();
    });
  }
  if (o.metricsPort !== undefined) {
    const url = resolveDatabaseUrl({ databaseUrl: o.databaseUrl });
    if (!url) throw new InvalidInputError('--metrics-port needs a database', {}, 'pass --database-url, or set TANDEM_DATABASE_URL or DATABASE_URL');
    const { startRunnerMetrics } = await import('../observe/metrics-server.js');
    try {
      run.metrics = await startRunnerMetrics({ port: o.metricsPort, databaseUrl: url, schema: o.schema, token: process.env['TANDEM_METRICS_TOKEN'] || undefined });
    } catch (err) {
      throw new InvalidInputError(
        `--metrics-port ${o.metricsPort}: cannot listen on 127.0.0.1:${o.metricsPort} (${(err as Error).message})`,
        { field: '--metrics-port' },
        'choose a free port',
        { code: 'port-unavailable' },
      );
    }
    info(`metrics: http://127.0.0.1:${run.metrics.port}/metrics`);
    const server = run.metrics;
    run.finishers.push(() => server.close());
  }
}

/** Tell the end of the command (done or failed) and stop the observers, hooks flushed first. */
export async function endObservability(outcome: { result?: unknown; error?: { code: string; exitCode: number; message: string } }): Promise<void> {
  const run = active;
  if (!run) return;
  active = undefined;
  if (outcome.error) emitEvent({ type: 'command-failed', command: run.command, ...outcome.error });
  else emitEvent({ type: 'command-done', command: run.command, result: outcome.result ?? null });
  for (const finish of run.finishers.reverse()) await finish();
}
