/**
 * Runs the test suite against TANDEM_TEST_DATABASE_URL if set, else against an embedded
 * PostgreSQL started for the run (each test creates its own database on that server).
 *   npm test                      # embedded PostgreSQL
 *   npm test -- test/cli.test.ts  # some files only
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.js';

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
if (!env['TANDEM_TEST_DATABASE_URL']) {
  server = await startEmbeddedPostgres();
  env['TANDEM_TEST_DATABASE_URL'] = server.url;
  console.log(`tests: embedded PostgreSQL on port ${server.port}`);
} else {
  console.log('tests: using TANDEM_TEST_DATABASE_URL');
}

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
