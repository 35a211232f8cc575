/**
 * `npm run bench:client` — tandem/client under many app instances: routing share, stickiness,
 * monotonicity, propagation time of `rollout set`, and the throughput cost of routing.
 *
 *   npm run bench:client
 *   npm run bench:client -- --instances 20 --sets 60 --seconds 5 --rounds 6
 *   npm run bench:client -- --database-url postgres://postgres@127.0.0.1:5432/postgres
 *
 * Options: --instances N (20 app instances: a pg.Pool and a versionRouter each, each with its own
 * LISTEN connection), --keys N (random keys per instance, 5000), --sets N (rollout changes timed,
 * 40), --rows N (rows of the table, 10000), --clients N (workers and connections of each of the
 * three throughput ways, 8), --seconds S (each throughput round, 3), --rounds N (4), --json FILE
 * (every number), --strict (exit 1 when a target is missed).
 * --database-url URL (else TANDEM_DATABASE_URL, else DATABASE_URL, else an embedded PostgreSQL):
 * the benchmark creates a scratch database there (client_bench_<pid>_<random>) and drops it.
 *
 * Targets: share on the new version at 25% within ±3 points; the same key the same version (on
 * every instance, and again later) while the percentage holds; no key new → old after widening to
 * 50%; p99 time from a rollout change (setRollout, what `tandem rollout set` runs) until every
 * instance routes by it ≤ 1 s; routed throughput ≥ 95% of the same transactions with the version
 * set by hand, and reported against bare transactions with no version set at all. The three run
 * at the same time, so a shared machine's noise hits them alike. Progress on stderr, report on stdout.
 */
import { writeFileSync } from 'node:fs';
import { type BenchConfig, runClientBench } from './run.js';

const args = process.argv.slice(2);
const known = new Set(['--instances', '--keys', '--sets', '--rows', '--clients', '--seconds', '--rounds', '--json', '--strict', '--database-url']);
function usage(message: string): never {
  process.stderr.write(`bench:client: ${message}\nsee the header of bench/client/main.ts for the options\n`);
  process.exit(2);
}
for (const a of args) if (a.startsWith('--') && !known.has(a)) usage(`unknown option ${a}`);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) usage(`${name} needs a value`);
  return v;
};
const num = (name: string, fallback: number, min: number, max: number): number => {
  const v = value(name);
  if (v === undefined) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < min || n > max) usage(`${name} must be a number between ${min} and ${max}`);
  return n;
};

const config: BenchConfig = {
  instances: num('--instances', 20, 1, 200),
  keysPerInstance: num('--keys', 5_000, 100, 1_000_000),
  sets: num('--sets', 40, 1, 10_000),
  rows: num('--rows', 10_000, 100, 10_000_000),
  clients: num('--clients', 8, 1, 64),
  roundSeconds: num('--seconds', 3, 0.2, 600),
  rounds: num('--rounds', 4, 1, 100),
  databaseUrl: value('--database-url') ?? process.env['TANDEM_DATABASE_URL'] ?? process.env['DATABASE_URL'],
};

const report = await runClientBench(config, (m) => process.stderr.write(`${m}\n`));
process.stdout.write(`${report.text}\n`);
const json = value('--json');
if (json) writeFileSync(json, `${JSON.stringify(report.figures, null, 2)}\n`);
if (args.includes('--strict') && report.missed.length > 0) process.exitCode = 1;
