/**
 * The fixture of the adapter tests: a database whose `users.name` is being renamed to
 * `display_name` (so a query shows which version's view it went through), the rollout at 50%,
 * and one key routed to each version.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { routeKey } from '../../src/client/routing.js';
import { start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { setRollout } from '../../src/state/rollout-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

export const MIGRATION_NAME = '0001_rename_name';
export const NEW_VERSION = `public_${MIGRATION_NAME}`;
export const OLD_VERSION = 'public';

export interface AdapterEnv {
  db: TestDatabase;
  /** The runner's connection (rollout changes). */
  engine: pg.Client;
  /** A pool for drivers built on node-postgres. */
  pool: pg.Pool;
  /** A key the rollout routes to each version. */
  key: { old: string; new: string };
  /** Health rows one instance flushed for a version: statements and errors by SQLSTATE, summed. */
  health(instanceId: string, version: string): Promise<{ statements: number; errors: number; bySqlstate: Record<string, number> }>;
  drop(): Promise<void>;
}

/** The fixture; the caller drops it (`env.drop()`). */
export async function renameInProgress(): Promise<AdapterEnv> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('error', () => undefined);
  const drop = async () => {
    await pool.end().catch(() => undefined);
    await db.drop();
  };
  try {
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL CHECK (name <> ''));
      INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 20) g;`);
    const engine = await db.connect('tandem-engine');
    await start(engine, parseMigration({ name: MIGRATION_NAME, operations: [{ rename_column: { table: 'users', from: 'name', to: 'display_name' } }] }, undefined), {
      lockTimeoutMs: 1_000,
    });
    await setRollout(engine, 'public', 50);
    const salt = (await db.query<{ salt: string }>(`SELECT salt FROM tandem.rollouts WHERE schema_name = 'public'`)).rows[0]!.salt;
    const candidates = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const key = { old: candidates.find((k) => routeKey(k, 50, salt) === 'old')!, new: candidates.find((k) => routeKey(k, 50, salt) === 'new')! };
    assert.ok(key.old && key.new, 'one key on each side at 50%');
    const health = async (instanceId: string, version: string) => {
      const r = await db.query<{ statements: string; errors: string; by: Record<string, number> | null }>(
        `SELECT coalesce(sum(statements), 0) AS statements, coalesce(sum(errors), 0) AS errors,
                (SELECT jsonb_object_agg(k, n) FROM (SELECT k, sum(v::int) AS n FROM tandem.version_health h2, jsonb_each_text(h2.errors_by_sqlstate) e(k, v)
                  WHERE h2.version = $1 AND h2.instance_id = $2 GROUP BY k) x) AS by
           FROM tandem.version_health WHERE version = $1 AND instance_id = $2`,
        [version, instanceId],
      );
      const row = r.rows[0]!;
      return { statements: Number(row.statements), errors: Number(row.errors), bySqlstate: row.by ?? {} };
    };
    return { db, engine, pool, key, health, drop };
  } catch (err) {
    await drop();
    throw err;
  }
}
