/**
 * `npm run bench:zdt` — the load proof: for each operation, on a table of N rows, clients on the
 * old and on the new version run selects, inserts, updates, upserts and deletes (all with
 * RETURNING) while start → backfill → complete runs, and again while start → rollback runs.
 *
 *   npm run bench:zdt                                        # 1,000,000 rows, every operation
 *   npm run bench:zdt -- --rows 200000
 *   npm run bench:zdt -- --rows 200000 --ops add_column,alter_column_type
 *   npm run bench:zdt -- --database-url postgres://…/postgres  # scratch databases on that server
 *
 * Options: --rows N (up to 10M), --ops a,b,c (see --list), --clients N per version (2),
 * --think-ms N (1), --baseline-seconds S (3, at each client count), --both-seconds S (3),
 * --after-seconds S (0.5), --min-phase-seconds S (1: shortest start and complete/rollback
 * window; the clients run on until it is reached), --directions complete,rollback, --no-plain
 * (skip timing the plain statement), --batch-size N / --batch-delay MS / --workers N (engine knobs; default the
 * engine's), --out FILE (also write the markdown there), --json FILE (every number), --strict
 * (exit 1 when a target is not met), --list. --database-url URL (else TANDEM_DATABASE_URL, else
 * DATABASE_URL, else an embedded PostgreSQL): a server on which the benchmark creates, and drops
 * afterwards, scratch databases named zdt_<pid>_<random>_*; it never touches any other database.
 *
 * Per operation and phase it reports failed statements, p50/p99/max latency and throughput
 * against a no-migration baseline measured on the same copy of the table just before; the stall
 * of the plain statement the operation replaces, timed under the same clients on another copy;
 * the ledger check of every acknowledged write after complete and after rollback; and whether
 * rollback left the catalog identical. Progress goes to stderr, the markdown report to stdout.
 */
import { writeFileSync } from 'node:fs';
import { type BenchOptions, defaultOptions, type Direction, runBenchmark } from './run.js';
import { renderMarkdown, verdicts } from './report.js';
import { scenarios } from './scenarios.js';

const args = process.argv.slice(2);
const has = (name: string) => args.includes(name);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) usage(`${name} needs a value`);
  return v;
};
const num = (name: string, min: number, max: number): number | undefined => {
  const v = value(name);
  if (v === undefined) return undefined;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < min || n > max) usage(`${name} must be a number between ${min} and ${max}`);
  return n;
};

function usage(message: string): never {
  process.stderr.write(`bench:zdt: ${message}\nsee the header of bench/zdt/main.ts for the options\n`);
  process.exit(2);
}

const known = new Set([
  '--rows',
  '--ops',
  '--clients',
  '--think-ms',
  '--baseline-seconds',
  '--both-seconds',
  '--after-seconds',
  '--min-phase-seconds',
  '--directions',
  '--no-plain',
  '--batch-size',
  '--batch-delay',
  '--workers',
  '--out',
  '--json',
  '--strict',
  '--list',
  '--database-url',
]);
for (const a of args) if (a.startsWith('--') && !known.has(a)) usage(`unknown option ${a}`);

if (has('--list')) {
  for (const s of scenarios) process.stdout.write(`${s.key.padEnd(30)} ${s.title}\n`);
  process.exit(0);
}

const directions =
  value('--directions')
    ?.split(',')
    .map((d) => d.trim()) ?? defaultOptions.directions;
for (const d of directions) if (d !== 'complete' && d !== 'rollback') usage(`--directions takes complete and/or rollback, not "${d}"`);
const ops = value('--ops')
  ?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const op of ops ?? []) if (!scenarios.some((s) => s.key === op)) usage(`unknown operation "${op}"; known: ${scenarios.map((s) => s.key).join(', ')}`);

const options: Partial<BenchOptions> = {
  databaseUrl: value('--database-url') ?? process.env['TANDEM_DATABASE_URL'] ?? process.env['DATABASE_URL'],
  rows: num('--rows', 1000, 10_000_000) ?? defaultOptions.rows,
  ops,
  clientsPerVersion: num('--clients', 1, 32) ?? defaultOptions.clientsPerVersion,
  thinkMs: num('--think-ms', 0, 1000) ?? defaultOptions.thinkMs,
  baselineSeconds: num('--baseline-seconds', 0.2, 600) ?? defaultOptions.baselineSeconds,
  bothSeconds: num('--both-seconds', 0.1, 600) ?? defaultOptions.bothSeconds,
  afterSeconds: num('--after-seconds', 0, 600) ?? defaultOptions.afterSeconds,
  minPhaseSeconds: num('--min-phase-seconds', 0, 600) ?? defaultOptions.minPhaseSeconds,
  directions: directions as Direction[],
  plain: !has('--no-plain'),
  batchSize: num('--batch-size', 1, 1_000_000),
  batchDelayMs: num('--batch-delay', 0, 60_000),
  workers: num('--workers', 1, 64),
};

const command = `npm run bench:zdt${args.length ? ` -- ${args.filter((a, i) => a !== '--database-url' && args[i - 1] !== '--database-url').join(' ')}` : ''}`;
const result = await runBenchmark(options);
const markdown = renderMarkdown(result, command);
process.stdout.write(`\n${markdown}\n`);
const out = value('--out');
if (out) writeFileSync(out, `${markdown}\n`);
const json = value('--json');
if (json) writeFileSync(json, JSON.stringify(result, null, 2));
process.exit(has('--strict') && verdicts(result).some((v) => !v.met) ? 1 : 0);
