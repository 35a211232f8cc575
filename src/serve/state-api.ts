import type pg from 'pg';
import type { RateTracker } from '../observe/rate.js';
import { backfillRateOf, readObservedState, type ObservedState } from '../observe/state-extras.js';

/** The snapshot the dashboard and `/api/state` get: the database's state plus rates and ETAs. */
export interface DashboardState extends ObservedState {
  schema: string | null;
  /** `<migration id>/<table>` → rate and ETA (backfillRateOf). */
  backfillRates: Record<string, { ratePerSecond: number | null; etaSeconds: number | null }>;
  /** Whether this server accepts actions (`--allow-actions`). */
  actionsAllowed: boolean;
}

export async function dashboardState(pool: pg.Pool, schema: string | undefined, rates: RateTracker, actionsAllowed: boolean): Promise<DashboardState> {
  const state = await readObservedState(pool, { schema });
  const backfillRates: DashboardState['backfillRates'] = {};
  for (const m of state.migrations) {
    for (const b of m.backfill) {
      const { rate, eta } = backfillRateOf(state, m.id, b, rates);
      backfillRates[`${m.id}/${b.table}`] = { ratePerSecond: rate ?? null, etaSeconds: eta ?? null };
    }
  }
  return { ...state, schema: schema ?? null, backfillRates, actionsAllowed };
}
