/**
 * Shared pieces of the lifecycle tests: a database per test with a seeded table, the engine with
 * small batches, clients of the old and the new application version, and catalog assertions.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { complete, type EngineOptions, rollback, start } from '../../src/engine/lifecycle.js';
import { checkNames, parseMigration } from '../../src/migration/load.js';
import type { Migration } from '../../src/migration/schema.js';
import { ident } from '../../src/sql/ident.js';
import { catalogSnapshot, notStateFunction } from '../helpers/catalog.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** Small batches so that a few hundred rows take several of them. */
export const engineOptions: EngineOptions = { lockTimeoutMs: 1_000, lockRetryForMs: 10_000, batchSize: 7, batchDelayMs: 0 };

export const ROWS = 200;

export function migration(doc: unknown): Migration {
  const m = parseMigration(doc, undefined);
  checkNames(m);
  return m;
}

export interface Env {
  db: TestDatabase;
  /** The connection the engine runs on. */
  engine: pg.Client;
  /** The old application version: base tables in `public`. */
  old: pg.Client;
}

/** A fresh database, `setup` run in it, then `fn`; the database is dropped afterwards. */
export async function withDatabase(setup: string, fn: (env: Env) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  try {
    await db.query(setup);
    const engine = await db.connect('tandem-engine');
    const old = await db.connect('old-app');
    await fn({ db, engine, old });
  } finally {
    await db.drop();
  }
}

/** A client of the new application version, selecting it by search_path. */
export async function newVersion(db: TestDatabase, versionSchema: string): Promise<pg.Client> {
  const c = await db.connect('new-app');
  await c.query(`SET search_path TO ${ident(versionSchema)}`);
  return c;
}

/**
 * Run `sql` as the new version in a transaction, selecting the version per transaction (the way
 * that works behind PgBouncer in transaction mode). `{t}` in the SQL is replaced by the table name:
 * unqualified with `use_version`, qualified with the version schema with `SET LOCAL`.
 */
export async function inNewVersionTransaction<T extends pg.QueryResultRow>(
  client: pg.Client,
  mode: 'use_version' | 'set_local',
  versionSchema: string,
  versionName: string,
  table: string,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<T>> {
  await client.query('BEGIN');
  try {
    if (mode === 'use_version') await client.query('SELECT tandem.use_version($1)', [versionSchema]);
    else await client.query(`SET LOCAL tandem.version = '${versionName.replace(/'/g, "''")}'`);
    const t = mode === 'use_version' ? ident(table) : `${ident(versionSchema)}.${ident(table)}`;
    const r = await client.query<T>(sql.replaceAll('{t}', t), params);
    await client.query('COMMIT');
    return r;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

export async function run(env: Env, m: Migration, opts: EngineOptions = {}) {
  return start(env.engine, m, { ...engineOptions, ...opts });
}

export async function runComplete(env: Env) {
  return complete(env.engine, engineOptions);
}

export async function runRollback(env: Env) {
  return rollback(env.engine, engineOptions);
}

export async function snapshot(env: Env, schema = 'public') {
  return catalogSnapshot(env.engine, schema);
}

export async function schemaNames(client: pg.Client, like = 'public_%'): Promise<string[]> {
  const r = await client.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY 1`, [like]);
  return r.rows.map((x) => x.nspname);
}

export interface ColumnShape {
  name: string;
  type: string;
  notNull: boolean;
}

/** Live columns of a relation (table or view), in order. */
export async function columns(client: pg.Client, schema: string, table: string): Promise<ColumnShape[]> {
  const r = await client.query<ColumnShape>(
    `SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull"
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schema, table],
  );
  return r.rows;
}

/** Tandem's helper constraints, any trigger, and tandem-made functions left on a table after complete. */
export async function leftovers(client: pg.Client, table: string): Promise<{ constraints: string[]; triggers: string[]; functions: string[] }> {
  const constraints = await client.query<{ conname: string }>(`SELECT conname::text FROM pg_constraint WHERE conrelid = $1::regclass AND conname LIKE '\\_tandem%' ORDER BY 1`, [
    `public.${ident(table)}`,
  ]);
  const triggers = await client.query<{ tgname: string }>(`SELECT tgname::text FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY 1`, [
    `public.${ident(table)}`,
  ]);
  const functions = await client.query<{ proname: string }>(
    `SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'tandem' AND ${notStateFunction()} ORDER BY 1`,
  );
  return {
    constraints: constraints.rows.map((r) => r.conname),
    triggers: triggers.rows.map((r) => r.tgname),
    functions: functions.rows.map((r) => r.proname),
  };
}

/** Rows of tandem.migrations, or [] when the state schema does not exist. */
export async function migrationRows(client: pg.Client): Promise<{ name: string; phase: string }[]> {
  const exists = await client.query<{ ok: boolean }>(`SELECT to_regclass('tandem.migrations') IS NOT NULL AS ok`);
  if (!exists.rows[0]!.ok) return [];
  return (await client.query<{ name: string; phase: string }>(`SELECT name, phase FROM tandem.migrations ORDER BY id`)).rows;
}

/** After complete: no tandem helper column, constraint, trigger or function is left. */
export async function assertNoTandemLeftovers(client: pg.Client, table: string): Promise<void> {
  const cols = await columns(client, 'public', table);
  assert.deepEqual(
    cols.filter((c) => c.name.startsWith('_tandem')),
    [],
    `tandem columns left on ${table}`,
  );
  assert.deepEqual(await leftovers(client, table), { constraints: [], triggers: [], functions: [] });
}

/** A temporary directory holding migration files for CLI tests. */
export async function tempDir(): Promise<{ dir: string; write(name: string, text: string): Promise<string>; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-lifecycle-'));
  return {
    dir,
    async write(name, text) {
      const file = path.join(dir, name);
      await writeFile(file, text);
      return file;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
