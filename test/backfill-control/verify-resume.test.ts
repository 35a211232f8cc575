// @tier slow
/**
 * `tandem verify` killed with kill -9 in the middle resumes after its last stored chunk: the run
 * goes on (no chunk checked twice, none skipped) and covers every row. `tandem backfill pause`
 * pauses a verify too (it is paced by the same throttle).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { start } from '../../src/engine/lifecycle.js';
import { changeControls } from '../../src/exec/throttle-control.js';
import type { VerifyReport } from '../../src/exec/verify.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import { runCli } from '../helpers/cli.js';
import { migrationFile, seeded, spawnCli, waitFor } from './support.js';

let dir: string;
let file: string;
before(async () => ({ dir, file } = await migrationFile()));
after(() => rm(dir, { recursive: true, force: true }));

test('a verify killed with kill -9 resumes after its last chunk and covers every row once', async () => {
  const db = await seeded(3_000);
  try {
    const engine = await db.connect('tandem-engine');
    await start(engine, await loadMigrationFile(file));
    const id = (await db.query<{ id: string }>(`SELECT id::text FROM tandem.migrations`)).rows[0]!.id;
    // Small, slow chunks, so that the kill lands in the middle.
    await changeControls(engine, id, { batchSize: 25, delayMs: 25 });
    const chunks = async () => Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM tandem.verify_chunks`)).rows[0]!.n);

    const first = spawnCli(['--database-url', db.url, 'verify']);
    await waitFor('some chunks checked', async () => (await db.query(`SELECT to_regclass('tandem.verify_chunks') AS t`)).rows[0].t !== null && (await chunks()) >= 5);
    first.child.kill('SIGKILL');
    await first.exited;
    const before = await chunks();
    assert.ok(before < 3_000 / 25, 'killed before the end');

    await changeControls(engine, id, { unpinBatchSize: true, delayMs: 0 });
    const second = await runCli(['--database-url', db.url, '--json', 'verify']);
    assert.equal(second.code, 0, second.stderr);
    const report = JSON.parse(second.stdout) as VerifyReport;
    assert.equal(report.resumed, true);
    assert.equal(report.ok, true);
    assert.equal(report.rowsChecked, 3_000, 'every row once: no chunk checked twice, none skipped');
    const runs = await db.query(`SELECT 1 FROM tandem.verify_runs`);
    assert.equal(runs.rowCount, 1, 'the same run went on');
    const gaps = await db.query(
      `SELECT a.chunk FROM tandem.verify_chunks a JOIN tandem.verify_chunks b ON b.run_id = a.run_id AND b.chunk = a.chunk + 1
        WHERE b.range_start IS DISTINCT FROM a.range_end`,
    );
    assert.deepEqual(gaps.rows, [], 'each chunk starts where the one before ended');
  } finally {
    await db.drop();
  }
});
