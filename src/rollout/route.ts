/**
 * Moving the rollout's percentage for `rollout run`, audited: each change is one transaction that
 * updates tandem.rollouts (its trigger notifies the clients on commit) and writes a row of
 * tandem.audit_log (phase `rollout`) with the server's clock — the record of when each step, and
 * a gate's routing back to 0%, took effect.
 */
import type pg from 'pg';
import { StateError } from '../errors.js';
import { pruneHealth, readRollout, setRolloutPercent, withTransaction } from '../state/rollout-store.js';
import { inProgress, type MigrationRow, stateSchemaReady } from '../state/store.js';

export interface RouteChange {
  migration: string;
  percent: number;
  previousPercent: number;
  /** The server's clock when the change was made (clock_timestamp() in its transaction). */
  at: Date;
}

export function noMigration(schema: string): StateError {
  return new StateError(`no migration is in progress on schema "${schema}": there is nothing to roll out`, 'start one with `tandem start <file>`', {
    code: 'not-in-progress',
  });
}

/** The active migration of the schema; exit 2 when there is none or it is not active. */
export async function activeMigration(client: pg.Client, schema: string): Promise<MigrationRow> {
  if (!(await stateSchemaReady(client))) throw noMigration(schema);
  const m = await inProgress(client, schema);
  if (!m) throw noMigration(schema);
  if (m.phase === 'starting')
    throw new StateError(`migration "${m.name}" has not finished starting`, 'run `tandem start` with its file again to finish it', { code: 'not-started' });
  if (m.phase !== 'active')
    throw new StateError(`migration "${m.name}" is ${m.phase.replace('_', ' ')}: its rollout is over`, undefined, {
      code: m.phase === 'completing' ? 'completing' : 'rolling-back',
    });
  return m;
}

/** The share of keys the migration's rollout routes to the new version now (0 before any `rollout set`). */
export async function currentPercent(client: pg.Client, m: MigrationRow): Promise<number> {
  const row = await readRollout(client, m.schema_name);
  return row && row.migration_id === m.id ? Number(row.percent) : 0;
}

/**
 * Route `percent` of the keys to the new version of migration `expected` (it must still be the
 * schema's active one). The rollout row is locked first, as `tandem rollout set` and `complete` do.
 */
export async function routePercent(client: pg.Client, expected: MigrationRow, percent: number, why: string): Promise<RouteChange> {
  return withTransaction(client, async () => {
    const before = await readRollout(client, expected.schema_name, true);
    const m = await activeMigration(client, expected.schema_name);
    if (m.id !== expected.id) throw new StateError(`migration "${expected.name}" is no longer the one in progress (now: "${m.name}")`, undefined, { code: 'invalid-state' });
    await setRolloutPercent(client, m, percent);
    const previousPercent = before && before.migration_id === m.id ? Number(before.percent) : 0;
    const r = await client.query<{ at: Date }>(
      `INSERT INTO tandem.audit_log (migration_id, schema_name, migration_name, phase, step_id, statements, outcome, started_at, duration_ms, client)
       VALUES ($1, $2, $3, 'rollout', $4, $5, 'ok', clock_timestamp(), 0, 'tandem rollout run') RETURNING started_at AS at`,
      [m.id, m.schema_name, m.name, `percent ${percent}`, `rollout ${previousPercent}% -> ${percent}%: ${why}`],
    );
    await pruneHealth(client, m.schema_name);
    return { migration: m.name, percent, previousPercent, at: r.rows[0]!.at };
  });
}
