/**
 * Shared pieces of the sturdiness tests (issue 7, defects 1–4 and the half-made state row):
 * a fresh database per test, the spawned CLI with its exit code and error code, and state probes.
 */
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { killSpawned, spawnCli, waitFor } from '../concurrency/support.js';

export { killSpawned, spawnCli, waitFor };

export interface CliOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The parsed --json document, if stdout held one. */
  json: Record<string, unknown> | undefined;
  /** The error's stable code from the --json error document (or its class, if no code is printed). */
  errorCode: string | undefined;
}

const ERROR_CLASS_CODES: Record<string, string> = { RunnerBusyError: 'runner-busy', LockTimeoutError: 'lock-timeout' };

/** Run the real binary to its end (always with --json) and parse what it printed. */
export async function cli(args: string[], url: string): Promise<CliOutcome> {
  const r = await spawnCli([...args, '--json'], url).done;
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  const error = json?.['error'] as { code?: string; type?: string } | undefined;
  const errorCode = error ? (error.code ?? (error.type ? ERROR_CLASS_CODES[error.type] : undefined)) : undefined;
  return { ...r, json, errorCode };
}

/** A stack trace line ("    at fn (file:line)") means an error escaped without being handled. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+:\d+:\d+\)?/.test(text);
}

export async function freshDatabase(setup: string, dbs: TestDatabase[]): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dbs.push(db);
  if (setup) await db.query(setup);
  return db;
}

type Queryable = { query: (sql: string, params?: unknown[]) => Promise<pg.QueryResult> };

export async function stateExists(db: Queryable): Promise<boolean> {
  return (await db.query(`SELECT to_regclass('tandem.migrations') IS NOT NULL AS ok`)).rows[0].ok as boolean;
}

export async function migrations(db: Queryable): Promise<{ id: string; name: string; phase: string }[]> {
  if (!(await stateExists(db))) return [];
  return (await db.query(`SELECT id::text, name, phase FROM tandem.migrations ORDER BY id`)).rows as { id: string; name: string; phase: string }[];
}

export async function checkpointOf(db: Queryable, table: string): Promise<{ last_key: string[] | null; done: boolean } | undefined> {
  if (!(await stateExists(db))) return undefined;
  const r = await db.query(`SELECT last_key, done FROM tandem.backfill_checkpoints WHERE table_name = $1 ORDER BY migration_id DESC LIMIT 1`, [table]);
  return r.rows[0] as { last_key: string[] | null; done: boolean } | undefined;
}

/** Backends holding the tandem runner lock (advisory class 0x7a4d) in this database. */
export async function runnerHolders(db: Queryable): Promise<number[]> {
  const r = await db.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x7a4d}::oid AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return r.rows.map((x) => x.pid as number);
}

/** Whether a step of that id is recorded done (in any phase). */
export async function stepDone(db: Queryable, stepId: string): Promise<boolean> {
  if (!(await stateExists(db))) return false;
  return (await db.query(`SELECT EXISTS (SELECT 1 FROM tandem.steps WHERE step_id = $1) AS ok`, [stepId])).rows[0].ok as boolean;
}

/** A small table whose text `score` the shared migration turns into an integer. */
export const SCORE_SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, score text);
  INSERT INTO users SELECT g, 'u' || g, (g % 10)::text FROM generate_series(1, 100) g;`;

/** The migration the sturdiness tests run by name: score text -> integer, both directions. */
export function scoreToInteger(name: string) {
  return {
    name,
    operations: [{ alter_column: { table: 'users', column: 'score', type: 'integer', up: 'CAST(score AS integer)', down: 'CAST(score AS text)' } }],
  };
}
