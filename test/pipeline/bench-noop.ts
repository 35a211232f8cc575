/**
 * Time of `tandem migrate <dir>` when nothing is pending (the target: < 2 s on a 50-file
 * directory), against `tandem --version` (the process start-up alone) measured in the same run,
 * so the ratio means something on a loaded machine too.
 *
 *   npm run bench:migrate-noop -- --files 50 --runs 5 [--database-url postgres://…/postgres]
 *
 * Connects to --database-url, else TANDEM_TEST_DATABASE_URL, else the machine's PostgreSQL at
 * 127.0.0.1:5432; creates a scratch database there and drops it afterwards. The directory is the
 * fixture directory (test/fixtures/pipeline/migrations) for --files up to its size, else that many
 * generated add_column files.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { databaseUrlFor } from '../../src/db/connection.js';
import { percentile } from '../../src/util/percentile.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const fixture = path.join(root, 'test', 'fixtures', 'pipeline', 'migrations');
const { values } = parseArgs({ options: { files: { type: 'string', default: '50' }, runs: { type: 'string', default: '5' }, 'database-url': { type: 'string' } } });
const files = Number(values.files);
const runs = Number(values.runs);
const adminUrl = values['database-url'] ?? process.env['TANDEM_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function writeDirectory(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-noop-'));
  const names = readdirSync(fixture).sort();
  if (files <= names.length) {
    for (const n of names.slice(0, files)) cpSync(path.join(fixture, n), path.join(dir, n));
    return dir;
  }
  writeFileSync(path.join(dir, '0000_table.yaml'), 'operations:\n  - create_table: { name: wide, columns: [{ name: id, type: bigint, pk: true }] }\n');
  for (let i = 1; i < files; i++) {
    writeFileSync(
      path.join(dir, `${String(i).padStart(5, '0')}_c${i}.yaml`),
      `operations:\n  - add_column: { table: wide, column: { name: c${i}, type: text, nullable: true } }\n`,
    );
  }
  return dir;
}

function timeCli(args: string[], url: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'tandem.js'), ...args], { env: { ...process.env, TANDEM_DATABASE_URL: url }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tandem ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return performance.now() - t0;
}

const name = `tandem_bench_noop_${process.pid}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = databaseUrlFor(adminUrl, name);
const dir = writeDirectory();
try {
  const applyMs = timeCli(['migrate', dir], url);
  const noop: number[] = [];
  const startup: number[] = [];
  for (let i = 0; i < runs; i++) {
    noop.push(timeCli(['migrate', dir], url));
    startup.push(timeCli(['--version'], url));
  }
  const p50 = (xs: number[]) => Math.round(percentile(xs, 50));
  console.log(`${files} files, applied once in ${Math.round(applyMs)} ms; ${runs} runs each:`);
  console.log(`  no-op migrate  p50 ${p50(noop)} ms, max ${Math.round(Math.max(...noop))} ms (target < 2000 ms)`);
  console.log(`  tandem --version (start-up) p50 ${p50(startup)} ms; ratio no-op / start-up ${(p50(noop) / p50(startup)).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
