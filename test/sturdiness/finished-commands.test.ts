/**
 * Defect 3 of issue 7: `tandem complete` / `tandem rollback` run again after they succeeded (a CI
 * retry after a kill that landed after the final commit) exit 0 and say so (`alreadyDone`); exit 2
 * (`not-in-progress`) stays for real usage errors. A kill between the last step and the phase
 * update converges when the same command runs again.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { TestDatabase } from '../helpers/db.js';
import { writeMigrationFile } from '../concurrency/support.js';
import { cli, freshDatabase, killSpawned, migrations, runnerHolders, spawnCli, waitFor } from './support.js';
import { SCORE_SETUP, scoreToInteger } from './support.js';

const SETUP = SCORE_SETUP;
const doc = scoreToInteger;

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop();
});

describe('finishing commands run again', () => {
  test('complete after complete: exit 0, alreadyDone; rollback of a completed migration: exit 2 not-in-progress', async () => {
    const db = await freshDatabase(SETUP, dbs);
    const file = writeMigrationFile('f1_score', doc('f1_score'));
    assert.equal((await cli(['start', file, '--complete'], db.url)).code, 0);

    const again = await cli(['complete'], db.url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.json, { migration: 'f1_score', versionSchema: 'public_f1_score', alreadyDone: true });
    const human = await spawnCli(['complete'], db.url).done;
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /already completed/);

    const rb = await cli(['rollback'], db.url);
    assert.equal(rb.code, 2, rb.stderr);
    assert.equal(rb.errorCode, 'not-in-progress');
    assert.deepEqual(
      (await migrations(db)).map((m) => m.phase),
      ['completed'],
    );
  });

  test('rollback after rollback: exit 0, alreadyDone; complete of a rolled-back migration: exit 2 not-in-progress', async () => {
    const db = await freshDatabase(SETUP, dbs);
    const file = writeMigrationFile('f2_score', doc('f2_score'));
    assert.equal((await cli(['start', file], db.url)).code, 0);
    assert.equal((await cli(['rollback'], db.url)).code, 0);

    const again = await cli(['rollback'], db.url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.json, { migration: 'f2_score', versionSchema: 'public_f2_score', alreadyDone: true });

    const c = await cli(['complete'], db.url);
    assert.equal(c.code, 2, c.stderr);
    assert.equal(c.errorCode, 'not-in-progress');
    assert.deepEqual(
      (await migrations(db)).map((m) => m.phase),
      ['rolled_back'],
    );
  });

  test('nothing ever started: complete and rollback exit 2 not-in-progress, before and after init', async () => {
    const db = await freshDatabase(SETUP, dbs);
    for (const verb of ['complete', 'rollback']) {
      const r = await cli([verb], db.url);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.errorCode, 'not-in-progress');
    }
    assert.equal((await cli(['init'], db.url)).code, 0);
    for (const verb of ['complete', 'rollback']) {
      const r = await cli([verb], db.url);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.errorCode, 'not-in-progress');
    }
  });
});

/**
 * Kill the command after its last step committed and before its phase update: the step is held
 * back by a lock on the table until the migration's row is locked too (FOR NO KEY UPDATE: the
 * step and audit inserts only need KEY SHARE on it), so the phase update is what waits.
 */
async function killBetweenLastStepAndPhaseUpdate(db: TestDatabase, verb: 'complete' | 'rollback', lastStep: string, name: string): Promise<void> {
  const blocker = await db.connect('report');
  await blocker.query('BEGIN');
  await blocker.query('SELECT count(*) FROM users');
  const run = spawnCli([verb, '--lock-timeout', '50', '--lock-retry-for', '60000'], db.url);
  await waitFor(
    `${verb} to retry its step ${lastStep}`,
    async () => (await db.query(`SELECT count(*)::int AS n FROM tandem.audit_log WHERE step_id = $1 AND outcome = 'lock_timeout'`, [lastStep])).rows[0].n >= 1,
    20_000,
  );
  const rowLock = await db.connect('row-lock');
  await rowLock.query('BEGIN');
  await rowLock.query(`SELECT 1 FROM tandem.migrations WHERE name = $1 FOR NO KEY UPDATE`, [name]);
  await blocker.query('COMMIT');
  const phase = verb === 'complete' ? 'complete' : 'rollback';
  const waitingBackend = await waitFor(
    'every step to be recorded and the phase update to wait',
    async () => {
      const r = await db.query(
        `SELECT (SELECT count(*) FROM tandem.steps s WHERE s.migration_id = m.id AND s.phase = $2)::int AS done, jsonb_array_length(m.plan -> $2) AS total,
                (SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tandem' AND wait_event_type = 'Lock' AND query LIKE 'UPDATE tandem.migrations%') AS waiting
           FROM tandem.migrations m WHERE m.name = $1`,
        [name, phase],
      );
      const row = r.rows[0];
      return row.done === row.total && (row.waiting as number | null);
    },
    20_000,
  );
  run.child.kill('SIGKILL');
  assert.equal((await run.done).signal, 'SIGKILL');
  // The dead runner's session would still run its phase update once the row is free: the server
  // (or an operator) ends it, so the update was never made, as when the kill lands before it is sent.
  await db.query('SELECT pg_terminate_backend($1)', [waitingBackend]);
  await rowLock.query('ROLLBACK');
  await waitFor('the dead runner to be gone', async () => (await runnerHolders(db)).length === 0, 10_000);
}

describe('a kill between the last step and the phase update converges', () => {
  test('complete', { timeout: 60_000 }, async () => {
    const db = await freshDatabase(SETUP, dbs);
    const file = writeMigrationFile('f3_score', doc('f3_score'));
    assert.equal((await cli(['start', file], db.url)).code, 0);
    await killBetweenLastStepAndPhaseUpdate(db, 'complete', 'contract', 'f3_score');
    assert.deepEqual(
      (await migrations(db)).map((m) => m.phase),
      ['completing'],
    );
    const again = await cli(['complete'], db.url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      (await migrations(db)).map((m) => m.phase),
      ['completed'],
    );
    assert.equal((await cli(['complete'], db.url)).code, 0);
  });

  test('rollback', { timeout: 60_000 }, async () => {
    const db = await freshDatabase(SETUP, dbs);
    const file = writeMigrationFile('f4_score', doc('f4_score'));
    assert.equal((await cli(['start', file], db.url)).code, 0);
    await killBetweenLastStepAndPhaseUpdate(db, 'rollback', 'undo:users', 'f4_score');
    assert.deepEqual(
      (await migrations(db)).map((m) => m.phase),
      ['rolling_back'],
    );
    const again = await cli(['rollback'], db.url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      (await migrations(db)).map((m) => m.phase),
      ['rolled_back'],
    );
    assert.equal((await cli(['rollback'], db.url)).code, 0);
  });
});
