import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type pg from 'pg';
import { createMetrics } from '../observe/metrics.js';
import { RateTracker } from '../observe/rate.js';
import { readObservedState } from '../observe/state-extras.js';
import { readAudit } from '../observe/state-snapshot.js';
import { registerActions } from './actions.js';
import { carriesToken } from './auth.js';
import { dashboardHtml } from './dashboard-html.js';
import { dashboardState } from './state-api.js';

export interface ServeOptions {
  pool: pg.Pool;
  token: string;
  /** Only this schema's migrations (default: every schema). */
  schema?: string | undefined;
  /** How often a live view (SSE) re-reads the state. */
  pollMs?: number;
  /** Accept pause/resume of the backfill and rollout changes (`--allow-actions`). */
  allowActions?: boolean;
}

/**
 * The routes of `tandem serve`: `/healthz` open; everything else needs the token — the
 * dashboard (`/`), `/metrics`, the JSON API (`/api/…`) and its live stream (`/api/events`, SSE).
 * Read-only unless `allowActions`: the state is read from the database at each request.
 */
export function createServeApp(opts: ServeOptions): Hono {
  const app = new Hono();
  const rates = new RateTracker();
  const metrics = createMetrics({ snapshot: () => readObservedState(opts.pool, { schema: opts.schema }), fromEvents: false });
  const pollMs = opts.pollMs ?? 500;

  app.get('/healthz', (c) => c.text('ok\n'));
  app.use('*', async (c, next) => {
    if (!carriesToken(opts.token, c.req.header('authorization'), c.req.query('token'))) {
      c.header('www-authenticate', 'Bearer');
      return c.text('401: a token is required (Authorization: Bearer <token> or ?token=<token>)\n', 401);
    }
    await next();
  });
  app.get('/', (c) => {
    c.header('cache-control', 'no-store');
    c.header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:");
    return c.html(dashboardHtml);
  });
  app.get('/metrics', async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });
  app.get('/api/state', async (c) => c.json(await dashboardState(opts.pool, opts.schema, rates, opts.allowActions === true)));
  app.get('/api/migrations/:id/audit', async (c) => {
    const id = c.req.param('id');
    if (!/^\d+$/.test(id)) return c.json({ error: { code: 'invalid-input', message: 'a migration id is a number' } }, 400);
    return c.json({ migrationId: id, entries: await readAudit(opts.pool, id) });
  });
  registerActions(app, opts.pool, opts.allowActions === true);
  // Live view: the state whenever it changes (checked every pollMs), and a comment line every 15 s
  // so proxies keep the stream open.
  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      let last = '';
      let quietSince = Date.now();
      while (!stream.aborted) {
        try {
          const state = await dashboardState(opts.pool, opts.schema, rates, opts.allowActions === true);
          const { takenAt: _t, ...comparable } = state;
          const key = JSON.stringify(comparable);
          if (key !== last) {
            last = key;
            quietSince = Date.now();
            await stream.writeSSE({ event: 'state', data: JSON.stringify(state) });
          } else if (Date.now() - quietSince > 15_000) {
            quietSince = Date.now();
            await stream.write(': keep-alive\n\n');
          }
        } catch (err) {
          await stream.writeSSE({ event: 'unavailable', data: JSON.stringify({ message: (err as Error).message }) });
        }
        await stream.sleep(pollMs);
      }
    }),
  );
  return app;
}
