/**
 * `tandem backfill pause|resume|set|status` from other processes against a real `tandem start`
 * child process, and the bad input they refuse (exit 2, nothing changed).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { spawnCli, waitFor } from './support.js';

const MIGRATION = `name: lower_email
operations:
  - alter_column:
      table: users
      column: email
      type: text
      up: lower(email)
      down: upper(email)
`;

let dir: string;
let file: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bfc-'));
  file = path.join(dir, 'lower_email.yaml');
  await writeFile(file, MIGRATION);
});
after(() => rm(dir, { recursive: true, force: true }));

async function seeded(rows: number): Promise<TestDatabase> {
  const db = await createTestDatabase();
  await db.query(`CREATE TABLE users (id int PRIMARY KEY, email varchar(100)); INSERT INTO users SELECT g, 'User' || g || '@X.io' FROM generate_series(1, ${rows}) g`);
  return db;
}

const rowsDone = async (db: TestDatabase) =>
  Number((await db.query<{ n: string }>(`SELECT coalesce(sum(rows_done), 0)::text AS n FROM tandem.backfill_checkpoints`).rows[0]?.n ?? 0));

const pacing = async (db: TestDatabase) =>
  (await db.query<{ paused: boolean; updated_at: Date }>(`SELECT paused, updated_at FROM tandem.backfill_pacing WHERE slice >= 0 AND NOT finished ORDER BY updated_at DESC LIMIT 1`)).rows[0];

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

test('pause and resume from other shells: a paused backfill holds no transaction or lock; a start run again after kill -9 waits for resume', async () => {
  const db = await seeded(3_000);
  try {
    const cli = (args: string[]) => runCli(['--database-url', db.url, ...args]);
    const startArgs = ['--database-url', db.url, '--batch-size', '20', '--batch-delay', '20', 'start', file];
    const first = spawnCli(startArgs);
    await waitFor('the backfill to begin', async () => (await stateTablesExist(db)) && (await rowsDone(db)) > 0);

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

    const status = await cli(['--json', 'status']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { inProgress: { backfillControls: { paused: boolean }; backfill: { etaSeconds: number | null; estimatedTotal: number }[] } };
    assert.equal(s.inProgress.backfillControls.paused, true);
    assert.equal(s.inProgress.backfill[0]!.etaSeconds, null);
    assert.equal(s.inProgress.backfill[0]!.estimatedTotal, 3_000);

    first.child.kill('SIGKILL');
    await first.exited;
    const second = spawnCli(startArgs);
    await waitFor('the second start to say it waits', async () => /paused by .*tandem backfill resume/.test(second.stderr()));
    assert.equal(await afterTwoPolls(db), frozen, 'the resumed start waits too');
    assert.equal(second.stderr().match(/paused by/g)?.length, 1, 'said once');

    const faster = await cli(['backfill', 'set', '--delay', '0']);
    assert.equal(faster.code, 0, faster.stderr);
    const resumed = await cli(['backfill', 'resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(await second.exited, 0, second.stderr());
    assert.match(second.stderr(), /resumed/);
    const unsynced = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE _tandem_synced IS NOT TRUE OR _tandem_new_email IS DISTINCT FROM lower(email)`);
    assert.equal(unsynced.rows[0]!.n, 0);
  } catch (e) { console.error('FAILED', e); throw e; } finally {
    await db.drop();
  }
});

test('`backfill set` re-paces a running backfill within a second; `backfill status` shows the settings and the pacing', async () => {
  const db = await seeded(3_000);
  try {
    const cli = (args: string[]) => runCli(['--database-url', db.url, ...args]);
    const run = spawnCli(['--database-url', db.url, '--batch-size', '40', '--batch-delay', '30', 'start', file]);
    await waitFor('the backfill to begin', async () => (await stateTablesExist(db)) && (await rowsDone(db)) > 0);
    const set = await cli(['backfill', 'set', '--batch-size', '7', '--delay', '0']);
    assert.equal(set.code, 0, set.stderr);
    const batch = await waitFor('the worker to take the new size', async () => {
      const r = await db.query<{ batch_size: number; delay_ms: number }>(`SELECT batch_size, delay_ms FROM tandem.backfill_pacing WHERE slice >= 0 AND NOT finished`);
      return r.rows.find((p) => p.batch_size === 7 && p.delay_ms === 0);
    });
    assert.ok(batch);
    const st = await cli(['--json', 'backfill', 'status']);
    assert.equal(st.code, 0, st.stderr);
    const doc = JSON.parse(st.stdout) as { controls: { batchSize: number; delayMs: number; paused: boolean }; tables: { table: string; rowsPerSecond: number }[] };
    assert.deepEqual([doc.controls.batchSize, doc.controls.delayMs, doc.controls.paused], [7, 0, false]);
    assert.equal(doc.tables[0]!.table, 'users');
    const human = await cli(['backfill', 'status']);
    assert.match(human.stdout, /batch size pinned at 7/);
    assert.match(human.stdout, /slice 0: .*batch 7 rows/);
    await cli(['backfill', 'set', '--batch-size', '1000']);
    assert.equal(await run.exited, 0, run.stderr());
  } finally {
    await db.drop();
  }
});

test('bad input changes nothing: no migration in progress, a size below 1, nothing to set (exit 2)', async () => {
  const db = await seeded(50);
  try {
    const cli = (args: string[]) => runCli(['--database-url', db.url, ...args]);
    for (const args of [['backfill', 'pause'], ['backfill', 'resume'], ['backfill', 'set', '--batch-size', '10'], ['backfill', 'status']]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /no migration is in progress/);
    }
    const tandem = await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'tandem'`);
    assert.equal(tandem.rowCount, 0, 'the state schema was not created');

    assert.equal((await cli(['start', file])).code, 0);
    const controls = () => db.query(`SELECT * FROM tandem.backfill_controls`);
    for (const args of [
      ['backfill', 'set', '--batch-size', '-5'],
      ['backfill', 'set', '--batch-size', '0'],
      ['backfill', 'set', '--delay', '-1'],
      ['backfill', 'set'],
      ['backfill', 'set', '--batch-size', '5', '--adaptive'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal((await controls()).rowCount, 0, `${args.join(' ')} changed nothing`);
    }
    const ok = await cli(['--json', 'backfill', 'set', '--batch-size', '5']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { controls: { batchSize: number } }).controls.batchSize, 5);
  } finally {
    await db.drop();
  }
});
