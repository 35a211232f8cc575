import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { InvalidInputError } from '../errors.js';
import { createServeApp } from './app.js';

export interface RunningServe {
  port: number;
  /** Resolves when the server stops (SIGINT/SIGTERM). */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** Start `tandem serve` on host:port with a small pool of its own; stops on SIGINT/SIGTERM. */
export async function startServe(opts: {
  databaseUrl: string;
  host: string;
  port: number;
  token: string;
  schema?: string | undefined;
  allowActions?: boolean;
}): Promise<RunningServe> {
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 4, application_name: 'tandem serve' });
  pool.on('error', () => undefined); // an idle connection lost: the next request opens another
  const app = createServeApp({ pool, token: opts.token, schema: opts.schema, allowActions: opts.allowActions === true });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
    s.once('error', (err: Error) =>
      reject(new InvalidInputError(`cannot listen on ${opts.host}:${opts.port} (${err.message})`, { field: '--port' }, 'choose a free port', { code: 'port-unavailable' })),
    );
  });
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const close = async () => {
    const closing = new Promise<void>((resolve) => server.close(() => resolve()));
    // Live streams (SSE) never end by themselves.
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    await closing;
    await pool.end().catch(() => undefined);
    resolveClosed();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void close());
  return { port: (server.address() as AddressInfo).port, closed, close };
}
