import type pg from 'pg';
import { etaSeconds, type RateTracker } from '../observe/rate.js';
import { readSnapshot, type StateSnapshot } from '../observe/state-snapshot.js';

/** The snapshot the dashboard and `/api/state` get: the database's state plus rates and ETAs measured across polls. */
export interface DashboardState extends StateSnapshot {
  schema: string | null;
  backfillRates: Record<string, { ratePerSecond: number | null; etaSeconds: number | null }>;
}

export async function dashboardState(pool: pg.Pool, schema: string | undefined, rates: RateTracker): Promise<DashboardState> {
  const snapshot = await readSnapshot(pool, { schema });
  const now = Date.parse(snapshot.takenAt);
  const backfillRates: DashboardState['backfillRates'] = {};
  for (const m of snapshot.migrations) {
    for (const b of m.backfill) {
      const key = `${m.id}/${b.table}`;
      const rate = b.done ? 0 : rates.observe(key, b.rowsDone, now);
      const left = b.done ? 0 : b.estimatedRows > 0 ? etaSeconds(b.rowsDone, Math.max(b.estimatedRows, b.rowsDone), rate) : undefined;
      backfillRates[key] = { ratePerSecond: rate ?? null, etaSeconds: left ?? null };
    }
  }
  return { ...snapshot, schema: schema ?? null, backfillRates };
}
