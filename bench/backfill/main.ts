/**
 * npm run bench:backfill -- [--rows 1000000,10000000] [--columns 5,50] [--workers 1,2]
 *                           [--batch-size 5000] [--vacuum-behind 10] [--database-url URL] [--json]
 *
 * For each combination: a fresh database and table, the one-UPDATE baseline on its twin, then
 * `tandem start` of a migration that backfills the same expression (bench/backfill/run.ts).
 * Prints rows/s, the ratio to the UPDATE measured in the same run, heap sizes, Tandem's peak
 * RSS, the 10M÷1M time ratio and the speedup of more workers. Without --database-url (or
 * TANDEM_TEST_DATABASE_URL) it runs on the embedded PostgreSQL.
 */
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { type Measurement, measure } from './run.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    columns: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1' },
    'batch-size': { type: 'string', default: '5000' },
    'vacuum-behind': { type: 'string', default: '10' },
    'database-url': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const list = (s: string) =>
  s
    .split(',')
    .map((x) => Number(x.trim()))
    .filter((n) => Number.isFinite(n) && n >= 0);

const log = (line: string) => process.stderr.write(`${line}\n`);
const url = values['database-url'] ?? process.env['TANDEM_TEST_DATABASE_URL'];
const server = url ? undefined : await startEmbeddedPostgres();
const adminUrl = url ?? server!.url;
const results: Measurement[] = [];
try {
  for (const columns of list(values.columns)) {
    for (const rows of list(values.rows)) {
      for (const workers of list(values.workers)) {
        for (const vacuumBehind of list(values['vacuum-behind'])) {
          const c = { rows, columns, workers, batchSize: list(values['batch-size'])[0] ?? 5000, vacuumBehind };
          log(`rows=${rows} columns=${columns} workers=${workers} vacuum-behind=${vacuumBehind}%`);
          const m = await measure(adminUrl, c, log);
          results.push(m);
          log(
            `  backfill ${Math.round(m.backfillRowsPerSecond).toLocaleString('en')} rows/s vs UPDATE ${Math.round(m.baselineRowsPerSecond).toLocaleString('en')} rows/s: ` +
              `${m.ratio.toFixed(2)}×; heap ${m.heapBeforeMb} → ${m.heapAfterMb} MB (twin ${m.twinHeapAfterMb} MB); peak RSS ${m.peakRssMb ?? '?'} MB; wrong rows ${m.wrongRows}`,
          );
        }
      }
    }
  }
} finally {
  await server?.stop();
}

const derived = derive(results);
if (values.json) process.stdout.write(`${JSON.stringify({ results, ...derived }, null, 2)}\n`);
else printTable(results, derived);
if (results.some((r) => r.wrongRows > 0)) process.exitCode = 1;

/** 10M÷1M time ratio and workers speedup, where the runs allow them. */
function derive(rs: Measurement[]) {
  const find = (rows: number, columns: number, workers: number, vacuumBehind: number) =>
    rs.find((r) => r.rows === rows && r.columns === columns && r.workers === workers && r.vacuumBehind === vacuumBehind);
  const scaling = [];
  const speedup = [];
  for (const r of rs) {
    const small = find(r.rows / 10, r.columns, r.workers, r.vacuumBehind);
    if (small) scaling.push({ rows: r.rows, columns: r.columns, workers: r.workers, timeRatio: r.backfillSeconds / small.backfillSeconds });
    if (r.workers > 1) {
      const one = find(r.rows, r.columns, 1, r.vacuumBehind);
      if (one) speedup.push({ rows: r.rows, columns: r.columns, workers: r.workers, speedup: one.backfillSeconds / r.backfillSeconds });
    }
  }
  return { scaling, speedup };
}

function printTable(rs: Measurement[], d: ReturnType<typeof derive>): void {
  const head = ['rows', 'cols', 'workers', 'vacuum%', 'UPDATE rows/s', 'backfill rows/s', 'ratio', 'heap before→after MB', 'twin heap MB', 'WAL MB (twin)', 'peak RSS MB', 'wrong'];
  const lines = rs.map((r) => [
    r.rows.toLocaleString('en'),
    r.columns,
    r.workers,
    r.vacuumBehind,
    Math.round(r.baselineRowsPerSecond).toLocaleString('en'),
    Math.round(r.backfillRowsPerSecond).toLocaleString('en'),
    `${r.ratio.toFixed(2)}×`,
    `${r.heapBeforeMb} → ${r.heapAfterMb}`,
    r.twinHeapAfterMb,
    `${r.walMb} (${r.twinWalMb})`,
    r.peakRssMb ?? '?',
    r.wrongRows,
  ]);
  const all = [head, ...lines.map((l) => l.map(String))];
  const widths = head.map((_, i) => Math.max(...all.map((l) => l[i]!.length)));
  for (const l of all) process.stdout.write(`${l.map((x, i) => x.padStart(widths[i]!)).join('  ')}\n`);
  for (const s of d.scaling)
    process.stdout.write(
      `time ${s.rows.toLocaleString('en')} ÷ ${(s.rows / 10).toLocaleString('en')} rows (${s.columns} cols, ${s.workers} workers): ${s.timeRatio.toFixed(2)} (target ≤ 11)\n`,
    );
  for (const s of d.speedup) process.stdout.write(`speedup of ${s.workers} workers (${s.rows.toLocaleString('en')} rows, ${s.columns} cols): ${s.speedup.toFixed(2)}×\n`);
}
