import { mkdtemp } from 'node:fs/promises';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { writeHistory } from '../fixtures/sql-history/generate.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { applySqlHistory, schemaSnapshot, type SchemaSnapshot } from './schema-snapshot.js';

/**
 * One run of the adoption-by-conversion check: a generated history of SQL migrations applied
 * directly to one database; converted with `tandem convert <dir> -o <dir>` and applied with
 * `tandem migrate <dir> --complete` to another; the two schemas (and the rows) compared.
 */
export interface HistoryRun {
  files: number;
  migrations: number;
  direct: SchemaSnapshot;
  converted: SchemaSnapshot;
  convertJson: { files: { file: string; source: string }[]; todos: unknown[]; warnings: unknown[] };
  outDir: string;
  timings: { generateMs: number; directMs: number; convertMs: number; migrateMs: number };
}

export async function runHistory(opts: { files: number; seed: number }): Promise<HistoryRun> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tandem-history-'));
  const sqlDir = path.join(root, 'sql');
  const outDir = path.join(root, 'tandem');
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const ms = Math.round(now - t);
    t = now;
    return ms;
  };
  await writeHistory(sqlDir, opts);
  const generateMs = lap();
  const dbs: TestDatabase[] = [];
  try {
    const direct = await createTestDatabase();
    dbs.push(direct);
    const viaTandem = await createTestDatabase();
    dbs.push(viaTandem);
    await applySqlHistory(await direct.connect(), sqlDir);
    const directMs = lap();
    const conv = await runCli(['--json', 'convert', sqlDir, '-o', outDir]);
    if (conv.code !== 0) throw new Error(`convert exited ${conv.code}: ${conv.stdout}${conv.stderr}`);
    const convertJson = JSON.parse(conv.stdout) as HistoryRun['convertJson'];
    const convertMs = lap();
    const mig = await runCli(['--database-url', viaTandem.url, 'migrate', outDir, '--complete']);
    if (mig.code !== 0) throw new Error(`migrate exited ${mig.code}: ${mig.stderr.slice(-4000)}`);
    const migrateMs = lap();
    return {
      files: opts.files,
      migrations: convertJson.files.length,
      direct: await schemaSnapshot(await direct.connect()),
      converted: await schemaSnapshot(await viaTandem.connect()),
      convertJson,
      outDir,
      timings: { generateMs, directMs, convertMs, migrateMs },
    };
  } finally {
    for (const db of dbs) await db.drop().catch(() => undefined);
  }
}

/**
 * The two schemas are identical: columns (defaults by value), constraints, indexes, views,
 * functions, triggers, types, sequences, extensions, comments and rows. Default *texts* differ in
 * one known way only: a column whose type Tandem changed prints its default with an explicit
 * cast (`(697)::bigint`, `'v1'::character varying(20)`) where ALTER TYPE prints `697`,
 * `'v1'::character varying`.
 */
export function assertSameSchema(r: HistoryRun): void {
  for (const key of Object.keys(r.direct) as (keyof SchemaSnapshot)[]) {
    if (key === 'defaultTexts') continue;
    assert.deepEqual(r.converted[key], r.direct[key], `${key} differ`);
  }
  const direct = new Set(r.direct.defaultTexts);
  for (const line of r.converted.defaultTexts.filter((d) => !direct.has(d))) {
    assert.match(line, /DEFAULT (\(.*\)|'.*'|-?[\d.]+)::[a-z ]+(\(\d+(,\d+)?\))?$/, `a default that differs otherwise than by an explicit cast: ${line}`);
  }
}
