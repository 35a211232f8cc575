/**
 * The backfill benchmark (`npm run bench:backfill`) in small: 100,000 rows, 5 columns, 2 workers.
 * Asserts that every row is exact and in sync after `tandem start`, and prints the rate against
 * one UPDATE of the same expression measured in the same run; the only speed assertion is a loose
 * floor (CI machines are noisy: the figures are the benchmark's business).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measure } from '../../bench/backfill/run.js';
import { adminUrl } from '../helpers/db.js';

test('bench:backfill at 100,000 rows: exact rows; the rate against one UPDATE', { timeout: 60_000 }, async () => {
  const m = await measure(adminUrl(), { rows: 100_000, columns: 5, workers: 2, batchSize: 5_000, vacuumBehind: 0 });
  process.stdout.write(
    `# bench:backfill 100k rows, 2 workers: ${Math.round(m.backfillRowsPerSecond)} rows/s vs one UPDATE ${Math.round(m.baselineRowsPerSecond)} rows/s = ${m.ratio.toFixed(2)}×; ` +
      `heap ${m.heapBeforeMb} → ${m.heapAfterMb} MB; peak RSS ${m.peakRssMb ?? '?'} MB\n`,
  );
  assert.equal(m.wrongRows, 0, 'every row exact and in sync');
  assert.ok(m.ratio >= 0.2, `the backfill ran at ${m.ratio.toFixed(2)}× one UPDATE: far below the loose floor of 0.2×`);
});
