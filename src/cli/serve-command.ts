import type { Command } from 'commander';
import { InvalidInputError } from '../errors.js';
import { resolveDatabaseUrl } from '../db/url.js';
import { globals, positiveInt } from './shared.js';

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);

/** `tandem serve`: the dashboard, the JSON API and the metrics of the state in the database. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve a live dashboard, a JSON API of the state and Prometheus metrics (127.0.0.1, token required)')
    .option('--port <port>', 'port to listen on', positiveInt, 8765)
    .option('--host <address>', 'address to listen on (default: loopback only)', '127.0.0.1')
    .option('--token <token>', 'the token every request but /healthz must carry (default: generated and printed; or TANDEM_SERVE_TOKEN)')
    .option('--all-schemas', 'show migrations of every schema, not only --schema')
    .option('--allow-actions', 'let the dashboard pause/resume the backfill and change the rollout (each after a confirmation)')
    .action(async (cmd: { port: number; host: string; token?: string; allSchemas?: boolean; allowActions?: boolean }) => {
      const url = resolveDatabaseUrl({ databaseUrl: globals().databaseUrl });
      if (!url) throw new InvalidInputError('no database configured', {}, 'pass --database-url, or set TANDEM_DATABASE_URL or DATABASE_URL');
      const token = cmd.token ?? process.env['TANDEM_SERVE_TOKEN'] ?? (await import('../serve/auth.js')).generateToken();
      if (token.length < 16) throw new InvalidInputError('--token is too short', { field: '--token' }, 'use at least 16 characters (or omit it to get a generated one)');
      const { startServe } = await import('../serve/server.js');
      const server = await startServe({
        databaseUrl: url,
        host: cmd.host,
        port: cmd.port,
        token,
        schema: cmd.allSchemas ? undefined : globals().schema,
        allowActions: cmd.allowActions === true,
      });
      if (!loopback.has(cmd.host)) process.stderr.write(`warning: listening on ${cmd.host}: anyone who can reach it and has the token can read the state\n`);
      const shown = cmd.host.includes(':') ? `[${cmd.host}]` : cmd.host;
      process.stderr.write(`tandem serve: http://${shown}:${server.port}/?token=${token}\n  metrics: http://${shown}:${server.port}/metrics (Authorization: Bearer <token>)\n`);
      if (globals().json) process.stdout.write(`${JSON.stringify({ url: `http://${shown}:${server.port}/`, port: server.port, host: cmd.host, tokenGenerated: !cmd.token })}\n`);
      await server.closed;
    });
}
