import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { createMetrics, type TandemMetrics } from './metrics.js';
import { readObservedState } from './state-extras.js';

export interface RunnerMetricsServer {
  port: number;
  metrics: TandemMetrics;
  close(): Promise<void>;
}

/**
 * The runner's `--metrics-port`: `GET /metrics` on 127.0.0.1 only, read from the database over
 * a connection of its own (opened at the first scrape, so a run nobody scrapes pays nothing),
 * plus what this runner sees itself. It serves counts and names only — no SQL, no connection
 * string — so it needs no token unless one is given (TANDEM_METRICS_TOKEN): the scrape contract
 * is `http://127.0.0.1:<port>/metrics`.
 */
export async function startRunnerMetrics(opts: { port: number; databaseUrl: string; schema: string; token?: string | undefined; host?: string }): Promise<RunnerMetricsServer> {
  let client: pg.Client | undefined;
  const db = async () => {
    if (!client) {
      const c = new pg.Client({ connectionString: opts.databaseUrl, application_name: 'tandem metrics' });
      c.on('error', () => (client = undefined));
      await c.connect();
      client = c;
    }
    return client;
  };
  const metrics = createMetrics({ snapshot: async () => readObservedState(await db(), { schema: opts.schema }), fromEvents: true });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (url.pathname !== '/metrics') return void res.writeHead(404).end();
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}` && url.searchParams.get('token') !== opts.token) {
      return void res.writeHead(401, { 'www-authenticate': 'Bearer' }).end('token required\n');
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    metrics,
    close: async () => {
      metrics.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await client?.end().catch(() => undefined);
    },
  };
}
