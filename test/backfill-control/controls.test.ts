// @tier slow
/**
 * `tandem backfill pause|resume|set|status` from other processes against a real `tandem start`
 * child process (killed with kill -9 while paused, and run again). Slow tier: a dozen CLI
 * processes and a few seconds of paused polling.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { status } from '../../src/engine/status.js';
import { changeControls } from '../../src/exec/throttle-control.js';
import { runCli } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import { migrationFile, seeded, spawnCli, waitFor } from './support.js';

let dir: string;
let file: string;
before(async () => ({ dir, file } = await migrationFile()));
after(() => rm(dir, { recursive: true, force: true }));

const rowsDone = async (db: TestDatabase) => Number((await db.query<{ n: string }>(`SELECT coalesce(sum(rows_done), 0)::text AS n FROM tandem.backfill_checkpoints`)).rows[0]!.n);

const pacing = async (db: TestDatabase) =>
  (
    await db.query<{ paused: boolean; updated_at: Date }>(
      `SELECT paused, updated_at FROM tandem.backfill_pacing WHERE slice >= 0 AND NOT finished ORDER BY updated_at DESC LIMIT 1`,
    )
  ).rows[0];

async function stateTablesExist(db: TestDatabase): Promise<boolean> {
  return (await db.query<{ ok: boolean }>(`SELECT to_regclass('tandem.backfill_pacing') IS NOT NULL AS ok`)).rows[0]!.ok;
}

/** Wait until the worker has polled the controls twice more (once a second), and return the rows done then. */
async function afterTwoPolls(db: TestDatabase): Promise<number> {
  for (let i = 0; i < 2; i++) {
    const seen = (await pacing(db))?.updated_at.getTime() ?? 0;
    await waitFor('the paused worker to poll again', async () => ((await pacing(db))?.updated_at.getTime() ?? 0) > seen, 10_000);
  }
  return rowsDone(db);
}

test('set, pause and resume from other shells: a paused backfill holds no transaction or lock; a start run again after kill -9 waits for resume', async () => {
  const db = await seeded(3_000);
  try {
    const cli = (args: string[]) => runCli(['--database-url', db.url, ...args]);
    const startArgs = ['--database-url', db.url, '--batch-size', '20', '--batch-delay', '20', 'start', file];
    const first = spawnCli(startArgs);
    await waitFor('the backfill to begin', async () => (await stateTablesExist(db)) && (await rowsDone(db)) > 0);

    // Re-paced live: the worker takes the new settings within about a second.
    const set = await cli(['backfill', 'set', '--batch-size', '7', '--delay', '30']);
    assert.equal(set.code, 0, set.stderr);
    await waitFor('the worker to take the new pacing', async () => {
      const r = await db.query<{ batch_size: number; delay_ms: number }>(`SELECT batch_size, delay_ms FROM tandem.backfill_pacing WHERE slice >= 0 AND NOT finished`);
      return r.rows.some((p) => p.batch_size === 7 && p.delay_ms === 30);
    });
    const live = (await status(await db.connect(), 'public')).inProgress!.backfillProgress!;
    const users = live.tables[0]!;
    assert.ok(users.estimatedTotal >= users.rowsDone && users.estimatedTotal > 0, 'an estimated total');
    assert.ok(users.rowsPerSecond > 0, 'a measured rate');
    assert.ok(users.etaSeconds !== null && users.etaSeconds >= 0, 'an ETA');
    assert.deepEqual([live.controls.batchSize, live.controls.delayMs, live.controls.paused], [7, 30, false]);

    const paused = await cli(['backfill', 'pause']);
    assert.equal(paused.code, 0, paused.stderr);
    await waitFor('the worker to stop', async () => (await pacing(db))?.paused === true);
    const frozen = await rowsDone(db);
    assert.equal(await afterTwoPolls(db), frozen, 'no batch runs while paused');

    // Nothing held while paused: every tandem session idle (no transaction), no lock on a table.
    const sessions = await db.query<{ state: string }>(`SELECT state FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'tandem%'`);
    assert.ok(sessions.rows.length > 0);
    assert.deepEqual(
      sessions.rows.map((s) => s.state),
      sessions.rows.map(() => 'idle'),
    );
    const locks = await db.query(
      `SELECT l.relation::regclass::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.application_name LIKE 'tandem%' AND a.datname = current_database() AND l.locktype = 'relation'`,
    );
    assert.deepEqual(locks.rows, []);

    const shown = await cli(['backfill', 'status']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /backfill PAUSED, batch size pinned at 7, delay 30 ms/);
    assert.match(shown.stdout, /slice 0: paused, batch 7 rows/);
    const whilePaused = (await status(await db.connect(), 'public')).inProgress!.backfillProgress!;
    assert.equal(whilePaused.controls.paused, true);
    assert.equal(whilePaused.tables[0]!.etaSeconds, null, 'no ETA while paused');

    first.child.kill('SIGKILL');
    await first.exited;
    const second = spawnCli(startArgs);
    await waitFor('the second start to say it waits', async () => /paused by .*tandem backfill resume/.test(second.stderr()));
    assert.equal(await afterTwoPolls(db), frozen, 'the resumed start waits too');
    assert.equal(second.stderr().match(/paused by/g)?.length, 1, 'said once');

    await changeControls(await db.connect(), (await db.query<{ id: string }>(`SELECT id::text FROM tandem.migrations`)).rows[0]!.id, { unpinBatchSize: true, delayMs: 0 });
    const resumed = await cli(['backfill', 'resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(await second.exited, 0, second.stderr());
    assert.match(second.stderr(), /resumed/);
    const unsynced = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE _tandem_synced IS NOT TRUE OR _tandem_new_email IS DISTINCT FROM lower(email)`);
    assert.equal(unsynced.rows[0]!.n, 0);
  } finally {
    await db.drop();
  }
});
