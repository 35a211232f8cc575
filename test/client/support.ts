/**
 * Shared pieces of the client tests: a database with a `users` table and a migration in progress
 * (an added column and a renamed one: the new version's view has `full_name` where the table has
 * `name`), and waiting for a condition.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

export const SETUP = `CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);
  INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 50) g;`;

export const MIGRATION_NAME = '0001_add_plan';
export const NEW_VERSION = `public_${MIGRATION_NAME}`;

export const migrationDoc = {
  name: MIGRATION_NAME,
  operations: [
    { add_column: { table: 'users', up: "'free'", column: { name: 'plan', type: 'text', nullable: true } } },
    { rename_column: { table: 'users', from: 'name', to: 'full_name' } },
  ],
};

/** Wait until `check` is true (polled every 10 ms), else fail after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** n distinct keys. */
export const keys = (n: number, prefix = 'user-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A database with `users` and the migration started; the caller drops it. */
export async function startedMigration(): Promise<{ db: TestDatabase; pool: pg.Pool; engine: pg.Client }> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('error', () => undefined);
  await db.query(SETUP);
  const engine = await db.connect('tandem-engine');
  await start(engine, parseMigration(migrationDoc, undefined), { lockTimeoutMs: 1_000 });
  return { db, pool, engine };
}
