import type pg from 'pg';
import { etaSeconds, type RateTracker } from '../observe/rate.js';
import { readObservedState, type ObservedState } from '../observe/state-extras.js';

/** The snapshot the dashboard and `/api/state` get: the database's state plus rates and ETAs. */
export interface DashboardState extends ObservedState {
  schema: string | null;
  /** `<migration id>/<table>` → rate and ETA: the workers' own when they record them, else measured across polls. */
  backfillRates: Record<string, { ratePerSecond: number | null; etaSeconds: number | null }>;
  /** Whether this server accepts actions (`--allow-actions`). */
  actionsAllowed: boolean;
}

export async function dashboardState(pool: pg.Pool, schema: string | undefined, rates: RateTracker, actionsAllowed: boolean): Promise<DashboardState> {
  const state = await readObservedState(pool, { schema });
  const now = Date.parse(state.takenAt);
  const backfillRates: DashboardState['backfillRates'] = {};
  for (const m of state.migrations) {
    for (const b of m.backfill) {
      const key = `${m.id}/${b.table}`;
      const live = state.extras.backfill[m.id]?.tables.find((t) => t.table === b.table);
      const scraped = b.done ? 0 : rates.observe(key, b.rowsDone, now);
      const rate = live && live.rowsPerSecond > 0 ? live.rowsPerSecond : scraped;
      const left = b.done ? 0 : (live?.etaSeconds ?? (b.estimatedRows > 0 ? etaSeconds(b.rowsDone, Math.max(b.estimatedRows, b.rowsDone), rate) : undefined));
      backfillRates[key] = { ratePerSecond: rate ?? null, etaSeconds: left ?? null };
    }
  }
  return { ...state, schema: schema ?? null, backfillRates, actionsAllowed };
}
