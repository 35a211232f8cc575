/**
 * Shared pieces of the pipeline tests: a scratch directory of migration files, the CLI against a
 * test database, and a snapshot of everything a refused command must leave alone (the catalog of
 * the target schema and every row of the tandem state schema).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { catalogSnapshot } from '../helpers/catalog.js';
import { type CliResult, runCli } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';

export interface Dir {
  path: string;
  write(fileName: string, text: string): Promise<string>;
  remove(): Promise<void>;
}

export async function scratchDir(): Promise<Dir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-pipeline-'));
  return {
    path: dir,
    async write(fileName, text) {
      const file = path.join(dir, fileName);
      await writeFile(file, text);
      return file;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function sha256OfFile(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** The CLI on the test database, with small batches and a lock budget fit for tests. */
export function tandem(db: TestDatabase, args: string[]): Promise<CliResult> {
  return runCli(['--database-url', db.url, '--lock-timeout', '200', '--lock-retry-for', '10000', ...args]);
}

/** `tandem … --json`, asserting the exit code, parsed. */
export async function tandemJson<T = Record<string, unknown>>(db: TestDatabase, args: string[], expectedCode = 0): Promise<T> {
  const r = await tandem(db, [...args, '--json']);
  assert.equal(r.code, expectedCode, `tandem ${args.join(' ')}: exit ${r.code}\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

/** The state schema's rows (every table, every column), or null when it does not exist. */
export async function stateRows(client: pg.Client): Promise<unknown> {
  const exists = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'tandem'`);
  if (exists.rowCount === 0) return null;
  const tables = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tandem' AND c.relkind = 'r' ORDER BY 1`,
  );
  const rows: Record<string, unknown> = {};
  for (const { relname } of tables.rows) {
    rows[relname] = (await client.query(`SELECT to_jsonb(t)::text AS row FROM tandem."${relname.replace(/"/g, '""')}" t ORDER BY 1`)).rows.map((r) => r.row as string);
  }
  return rows;
}

/** What a refused command must not change: the catalog and the state. */
export async function databaseSnapshot(client: pg.Client): Promise<unknown> {
  return { catalog: await catalogSnapshot(client), state: await stateRows(client) };
}

export interface HistoryRow {
  name: string;
  phase: string;
  file_name: string | null;
  file_checksum: string | null;
  baseline: boolean;
}

export async function historyRows(client: pg.Client): Promise<HistoryRow[]> {
  const r = await client.query<HistoryRow>(`SELECT name, phase, file_name, file_checksum, baseline FROM tandem.migrations ORDER BY id`);
  return r.rows;
}

/** A tiny migration: a table with a few rows (`sql` seeds are separate files). */
export const createTable = (table: string) =>
  `operations:\n  - create_table:\n      name: ${table}\n      columns:\n        - { name: id, type: bigint, pk: true }\n        - { name: label, type: text, nullable: true }\n`;

export const addColumn = (table: string, column: string) => `operations:\n  - add_column:\n      table: ${table}\n      column: { name: ${column}, type: text, nullable: true }\n`;

export const seedRows = (table: string, n: number) =>
  `operations:\n  - sql:\n      up: INSERT INTO ${table} (id, label) SELECT g, 'row ' || g FROM generate_series(1, ${n}) g\n      down: DELETE FROM ${table}\n`;
