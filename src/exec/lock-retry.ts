import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';

/** SQLSTATEs after which the whole transaction is safely retried. */
const RETRYABLE = new Set(['55P03', '40P01']); // lock_not_available, deadlock_detected

export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has((err as { code?: string }).code ?? '');
}

/** Exponential backoff with full jitter, capped: spreads retries so the queue behind us drains. */
export function backoffMs(attempt: number, baseMs = 25, capMs = 2_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export { sleep };

/** Who holds locks on these tables right now (for the message when a step gives up). */
export async function describeBlockers(client: pg.Client, tables: string[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const r = await client.query<{ pid: number; usename: string; application_name: string; state: string; xact_age: string | null; query: string; modes: string }>(
    `SELECT a.pid, a.usename, a.application_name, a.state,
            extract(epoch FROM now() - a.xact_start)::int::text AS xact_age, left(a.query, 120) AS query,
            string_agg(DISTINCT l.mode, ', ') AS modes
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.granted AND l.locktype = 'relation' AND l.relation = ANY ($1::regclass[]) AND a.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) -- pg_locks spans the cluster
      GROUP BY a.pid, a.usename, a.application_name, a.state, a.xact_start, a.query
      ORDER BY a.xact_start NULLS LAST LIMIT 5`,
    [tables],
  );
  return r.rows.map(
    (b) =>
      `pid ${b.pid} (user ${b.usename}${b.application_name ? `, application "${b.application_name}"` : ''}, ${b.state}` +
      `${b.xact_age !== null ? `, transaction open ${b.xact_age}s` : ''}, holds ${b.modes}; last query: ${b.query.replace(/\s+/g, ' ')})`,
  );
}
