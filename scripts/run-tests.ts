/**
 * Runs the test suite, tier by tier, and prints each tier's duration and counts.
 *   npm test                                  # every tier: fast, then db, then slow
 *   npm test -- --tier fast                   # one tier (or a list: --tier fast,db); also npm run test:fast …
 *   npm test -- test/lifecycle/cli.test.ts    # some files only (with --tier: those of that tier)
 *   TANDEM_TEST_PG_VERSION=14 npm test        # db and slow tiers on the embedded PostgreSQL 14 (14 … 18)
 *   npm test -- --list                        # which file is in which tier, without running anything
 *
 * Tiers:
 *   fast  no PostgreSQL at all: SQL generation, file validation, golden plans, lint rules on fixtures.
 *         Run with no connection configured, so a test that needs a database fails here loudly.
 *   db    against a real server: lifecycle, examples, schema-aware lint, convert, trace…
 *   slow  concurrency, crash and kill -9, fuzz, bench and the package test; CI runs them once.
 * A file's tier is that of its directory under test/ (below); a line `// @tier fast|db|slow` near
 * the top of a file overrides it. A new file in a new directory lands in `db`, which has a server.
 *
 * The db and slow tiers run against TANDEM_TEST_DATABASE_URL if set, else against an embedded
 * PostgreSQL started once for the run (each test creates its own database on that server).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parsePgMajor, startEmbeddedPostgres } from '../src/db/embedded.js';

const TIERS = ['fast', 'db', 'slow'] as const;
type Tier = (typeof TIERS)[number];

/** The default tier of each directory under test/; any other directory is `db`. */
const DIRECTORY_TIERS: Record<string, Tier> = {
  unit: 'fast',
  concurrency: 'slow',
  sturdiness: 'slow',
  crash: 'slow',
  fuzz: 'slow',
  bench: 'slow',
  package: 'slow',
};

const root = path.resolve(import.meta.dirname, '..');

function usage(message: string): never {
  console.error(`tests: ${message}\nusage: npm test [-- [--tier fast|db|slow[,…]] [--list] [test files…]]`);
  process.exit(2);
}

function parseArgs(argv: string[]): { tiers: Tier[]; files: string[]; list: boolean } {
  const files: string[] = [];
  let list = false;
  let tiers: Tier[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let value: string | undefined;
    if (a === '--tier') value = argv[++i] ?? usage('--tier needs a value');
    else if (a.startsWith('--tier=')) value = a.slice('--tier='.length);
    else if (a === '--list') list = true;
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else files.push(a);
    if (value !== undefined) {
      const list = value.split(',').map((t) => t.trim());
      for (const t of list) if (!(TIERS as readonly string[]).includes(t)) usage(`unknown tier "${t}" (tiers: ${TIERS.join(', ')})`);
      tiers = [...(tiers ?? []), ...(list as Tier[])];
    }
  }
  return { tiers: tiers ? TIERS.filter((t) => tiers.includes(t)) : [...TIERS], files, list };
}

/** The tier of a test file: its `// @tier x` line, else its directory's. */
function tierOf(file: string): Tier {
  const head = readFileSync(path.resolve(root, file), 'utf8').slice(0, 4000);
  const marker = /^\s*\/\/\s*@tier\s+(fast|db|slow)\b/m.exec(head);
  if (marker) return marker[1] as Tier;
  const rel = path.relative(path.join(root, 'test'), path.resolve(root, file)).split(path.sep);
  return (rel.length > 1 && DIRECTORY_TIERS[rel[0]!]) || 'db';
}

const { tiers, files: given, list } = parseArgs(process.argv.slice(2));
const all = given.length
  ? given
  : readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts') && !f.split(path.sep).includes('node_modules'))
      .sort()
      .map((f) => path.join('test', f));
const byTier = new Map<Tier, string[]>(tiers.map((t) => [t, all.filter((f) => tierOf(f) === t)]));
const planned = tiers.filter((t) => byTier.get(t)!.length > 0);
if (list) {
  for (const t of tiers) for (const f of byTier.get(t)!) console.log(`${t.padEnd(5)} ${f}`);
  process.exit(0);
}
if (planned.length === 0) usage(`no test file in tier ${tiers.join(', ')}${given.length ? ` among ${given.join(' ')}` : ''}`);

const baseEnv: NodeJS.ProcessEnv = { ...process.env };
let server: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;

/** A server for the db and slow tiers: the configured one, else an embedded one started now. */
async function ensureServer(): Promise<NodeJS.ProcessEnv> {
  const env = { ...baseEnv };
  const wanted = env['TANDEM_TEST_PG_VERSION']?.trim();
  if (!env['TANDEM_TEST_DATABASE_URL']) {
    if (!server) {
      const t0 = Date.now();
      try {
        const version = wanted ? parsePgMajor(wanted, 'version in TANDEM_TEST_PG_VERSION') : undefined;
        server = await startEmbeddedPostgres(version !== undefined ? { version } : {});
      } catch (err) {
        console.error(`tests: ${(err as Error).message}`);
        process.exit(2);
      }
      console.log(`tests: embedded PostgreSQL ${server.version} on port ${server.port} (started in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      await printServerVersion(server.url);
    }
    env['TANDEM_TEST_DATABASE_URL'] = server.url;
    // Tests that start an embedded server of their own (tandem demo, tandem trace) use the same major.
    if (wanted) env['TANDEM_PG_VERSION'] = String(server.major);
  } else if (!serverPrinted) {
    if (wanted) console.log('tests: TANDEM_TEST_PG_VERSION is ignored: TANDEM_TEST_DATABASE_URL is set');
    console.log('tests: using TANDEM_TEST_DATABASE_URL');
    await printServerVersion(env['TANDEM_TEST_DATABASE_URL']);
  }
  return env;
}

let serverPrinted = false;
async function printServerVersion(url: string): Promise<void> {
  serverPrinted = true;
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  console.log(`tests: server ${(await probe.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v}`);
  await probe.end();
}

/** The fast tier runs with no connection configured at all. */
function withoutServer(): NodeJS.ProcessEnv {
  const env = { ...baseEnv };
  for (const k of ['TANDEM_TEST_DATABASE_URL', 'TANDEM_DATABASE_URL', 'DATABASE_URL', 'PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER']) delete env[k];
  return env;
}

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** The totals from the TAP summary that node's test runner writes at the end (`# pass 12` …). */
function readCounts(tapFile: string): Counts | undefined {
  let text: string;
  try {
    text = readFileSync(tapFile, 'utf8');
  } catch {
    return undefined;
  }
  const n = (key: string) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  const [pass, fail, cancelled, skipped, todo] = [n('pass'), n('fail'), n('cancelled'), n('skipped'), n('todo')];
  if (Number.isNaN(pass) || Number.isNaN(fail)) return undefined;
  return { passed: pass, failed: fail + (cancelled || 0), skipped: (skipped || 0) + (todo || 0) };
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tandem-tests-'));
interface TierResult extends Partial<Counts> {
  tier: Tier;
  files: number;
  seconds: number;
  code: number;
}
const results: TierResult[] = [];
for (const tier of planned) {
  const files = byTier.get(tier)!;
  const env = tier === 'fast' ? withoutServer() : await ensureServer();
  const tap = path.join(tmp, `${tier}.tap`);
  console.log(`tests: tier ${tier}: ${files.length} files`);
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      `--test-concurrency=${env['TANDEM_TEST_CONCURRENCY'] ?? '2'}`,
      ...files,
    ],
    { stdio: 'inherit', env, cwd: root },
  );
  const code: number = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  const seconds = (Date.now() - t0) / 1000;
  const counts = readCounts(tap);
  results.push({ tier, files: files.length, seconds, code, ...counts });
  console.log(
    `tests: tier ${tier} finished in ${seconds.toFixed(1)} s${counts ? `: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped` : ''}${code ? ` (exit ${code})` : ''}`,
  );
}

await server?.stop();
rmSync(tmp, { recursive: true, force: true });

console.log('tests: duration per tier');
for (const r of results) {
  const counts = r.passed !== undefined ? `${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped` : `exit ${r.code}`;
  console.log(`  ${r.tier.padEnd(5)} ${r.seconds.toFixed(1).padStart(7)} s  ${String(r.files).padStart(3)} files  ${counts}`);
}
const total = results.reduce((a, r) => ({ passed: a.passed + (r.passed ?? 0), failed: a.failed + (r.failed ?? 0), skipped: a.skipped + (r.skipped ?? 0) }), {
  passed: 0,
  failed: 0,
  skipped: 0,
});
const failedTier = results.some((r) => r.code !== 0);
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(failedTier ? 1 : 0);
