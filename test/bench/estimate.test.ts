/**
 * The target of `tandem plan`'s estimate: within a factor of 3 of the measured `start` on a
 * 1,000,000-row table (npm run bench:estimate in one run: the estimate, calibration included,
 * then the real start on the same server). Both figures are printed. TANDEM_ESTIMATE_ROWS
 * changes the size.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderEstimateBench, runEstimateBench } from '../../bench/estimate/run.js';
import { adminUrl } from '../helpers/db.js';

const rows = Number(process.env['TANDEM_ESTIMATE_ROWS'] ?? 1_000_000);

test(`plan's estimate of start is within a factor of 3 of the measured start (${rows.toLocaleString('en-US')} rows)`, { timeout: 300_000 }, async () => {
  const r = await runEstimateBench({ adminUrl: adminUrl(), rows, complete: false });
  console.log(renderEstimateBench(r));
  assert.ok(r.estimatedStartSeconds > 0, 'an estimate was made');
  assert.ok(
    r.ratio >= 1 / 3 && r.ratio <= 3,
    `measured ${r.measuredStartSeconds.toFixed(2)} s against estimated ${r.estimatedStartSeconds.toFixed(2)} s: ratio ${r.ratio.toFixed(2)}`,
  );
  const backfill = r.steps.find((s) => s.description.startsWith('backfill'))!;
  assert.ok(backfill.estimatedSeconds! > 0 && backfill.measuredSeconds > 0);
});
