/**
 * Runs the test suite against TANDEM_TEST_DATABASE_URL if set, else against an embedded
 * PostgreSQL started for the run (each test creates its own database on that server).
 *   npm test                                  # embedded PostgreSQL (18)
 *   TANDEM_TEST_PG_VERSION=14 npm test        # embedded PostgreSQL 14 (14 … 18)
 *   npm test -- test/cli.test.ts              # some files only
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { parsePgMajor, startEmbeddedPostgres } from '../src/db/embedded.js';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const files = args.length
  ? args
  : readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => path.join('test', f));

let server: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
const env = { ...process.env };
const wanted = env['TANDEM_TEST_PG_VERSION']?.trim();
if (!env['TANDEM_TEST_DATABASE_URL']) {
  const t0 = Date.now();
  try {
    const version = wanted ? parsePgMajor(wanted, 'version in TANDEM_TEST_PG_VERSION') : undefined;
    server = await startEmbeddedPostgres(version !== undefined ? { version } : {});
  } catch (err) {
    console.error(`tests: ${(err as Error).message}`);
    process.exit(2);
  }
  env['TANDEM_TEST_DATABASE_URL'] = server.url;
  // Tests that start an embedded server of their own (tandem demo, tandem trace) use the same major.
  if (wanted) env['TANDEM_PG_VERSION'] = String(server.major);
  console.log(`tests: embedded PostgreSQL ${server.version} on port ${server.port} (started in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
} else {
  if (wanted) console.log('tests: TANDEM_TEST_PG_VERSION is ignored: TANDEM_TEST_DATABASE_URL is set');
  console.log('tests: using TANDEM_TEST_DATABASE_URL');
}
const probe = new pg.Client({ connectionString: env['TANDEM_TEST_DATABASE_URL'] });
await probe.connect();
console.log(`tests: server ${(await probe.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v}`);
await probe.end();

const started = Date.now();
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${env['TANDEM_TEST_CONCURRENCY'] ?? '2'}`, ...files],
  { stdio: 'inherit', env, cwd: root },
);
const code: number = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
console.log(`tests: finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
await server?.stop();
process.exit(code);
