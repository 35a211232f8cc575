import type { Hono } from 'hono';
import type pg from 'pg';
import { InvalidInputError, StateError } from '../errors.js';

/**
 * `tandem serve --allow-actions`: pause/resume the backfill and set the rollout percentage from
 * the dashboard. Each request must say `{"confirm": true}` (the page asks the user first); the
 * changes are the same as `tandem backfill pause|resume` and `tandem rollout set` make, recorded
 * with the server's role as who made them.
 */
export function registerActions(app: Hono, pool: pg.Pool, allowed: boolean): void {
  app.post('/api/actions/:action', async (c) => {
    if (!allowed) return c.json({ error: { code: 'actions-disabled', message: 'this server is read-only: start it with --allow-actions' } }, 403);
    const body = (await c.req.json().catch(() => ({}))) as { confirm?: unknown; migrationId?: unknown; schema?: unknown; percent?: unknown };
    if (body.confirm !== true) return c.json({ error: { code: 'confirmation-required', message: 'send {"confirm": true} to confirm the action' } }, 400);
    const client = await pool.connect();
    try {
      const action = c.req.param('action');
      if (action === 'backfill-pause' || action === 'backfill-resume') {
        if (typeof body.migrationId !== 'string' || !/^\d+$/.test(body.migrationId)) throw new InvalidInputError('migrationId must be a migration id', { field: 'migrationId' });
        const { changeControls, ensureControlTables } = await import('../exec/throttle-control.js');
        const phase = await client.query<{ phase: string }>(`SELECT phase FROM tandem.migrations WHERE id = $1`, [body.migrationId]);
        if (phase.rows[0]?.phase !== 'starting') throw new StateError(`migration ${body.migrationId} has no backfill running (phase ${phase.rows[0]?.phase ?? 'unknown'})`);
        await ensureControlTables(client as unknown as pg.Client);
        const controls = await changeControls(client as unknown as pg.Client, body.migrationId, { paused: action === 'backfill-pause' });
        return c.json({ ok: true, action, controls });
      }
      if (action === 'rollout-set') {
        if (typeof body.schema !== 'string') throw new InvalidInputError('schema must be given', { field: 'schema' });
        if (typeof body.percent !== 'number' || !(body.percent >= 0 && body.percent <= 100))
          throw new InvalidInputError('percent must be a number from 0 to 100', { field: 'percent' });
        const { setRollout } = await import('../state/rollout-store.js');
        return c.json({ ok: true, action, rollout: await setRollout(client as unknown as pg.Client, body.schema, body.percent) });
      }
      return c.json({ error: { code: 'unknown-action', message: `no action "${action}": backfill-pause, backfill-resume, rollout-set` } }, 404);
    } catch (err) {
      const status = err instanceof InvalidInputError || err instanceof StateError ? 400 : 500;
      return c.json({ error: { code: (err as { code?: string }).code ?? 'error', message: (err as Error).message } }, status);
    } finally {
      client.release();
    }
  });
}
