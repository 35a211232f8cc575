/**
 * The throttle against a real server (in-process, driven as a backfill worker drives it): it
 * backs off on sessions waiting on locks on the table, on --throttle-sql and --throttle-url, says
 * why, recovers, and records its pacing. And the bad input of `tandem backfill` (exit 2, nothing changed).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { start } from '../../src/engine/lifecycle.js';
import { type BackfillThrottle, openBackfillThrottle } from '../../src/exec/backfill-throttle.js';
import { defaultExecOptions, type ExecOptions } from '../../src/exec/options.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { migrationFile, seeded, waitFor } from './support.js';

// One database with the migration started, shared by the tests (each opens its own throttles).
let dir: string;
let db: TestDatabase;
let migrationId: string;
before(async () => {
  const m = await migrationFile();
  dir = m.dir;
  db = await seeded(100);
  await start(await db.connect('tandem-engine'), await loadMigrationFile(m.file));
  migrationId = (await db.query<{ id: string }>(`SELECT id::text FROM tandem.migrations`)).rows[0]!.id;
});
after(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

/** One pretend batch of the size asked for, taking `ms`. */
async function batch(t: BackfillThrottle, ms = 20): Promise<void> {
  const { batchSize } = await t.beforeBatch();
  t.afterBatch({ rows: batchSize, durationMs: ms });
}

test('backs off while sessions wait on locks on the table, says why, recovers when they are gone', async () => {
  {
    const holder = await db.connect('lock-holder');
    await holder.query('BEGIN');
    await holder.query('UPDATE users SET email = email WHERE id = 1');
    const waiter = await db.connect('lock-waiter');
    const waiting = waiter.query('UPDATE users SET email = email WHERE id = 1');
    await waitFor('a session waiting on the row lock', async () => {
      const r = await db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'lock-waiter' AND wait_event_type = 'Lock'`);
      return (r.rowCount ?? 0) > 0;
    });
    const options: ExecOptions = { ...defaultExecOptions, batchSize: 1000 };
    const t = await openBackfillThrottle({ client: await db.connect('tandem-worker'), migrationId, table: 'users', slice: 0, options });
    await batch(t);
    assert.match(t.pacing.reason ?? '', /lock waits: 1 session waiting on locks on the table/);
    assert.equal(t.pacing.batchSize, 500);
    assert.ok(t.pacing.delayMs > 0);

    await holder.query('COMMIT');
    await waiting;
    await waitFor('the throttle to recover', async () => {
      await batch(t);
      return t.pacing.backoffLevel === 0 && t.pacing.reason === null;
    });
    assert.equal(t.pacing.delayMs, 0);
    await t.close();
    const recorded = await db.query<{ finished: boolean; batch_size: number }>(`SELECT finished, batch_size FROM tandem.backfill_pacing WHERE slice = 0`);
    assert.equal(recorded.rows[0]!.finished, true);
  }
});

test('--throttle-sql true, a failing --throttle-sql (said once) and a --throttle-url answering 503 each slow it down', async () => {
  let answer = 503;
  const server = createServer((_req, res) => res.writeHead(answer).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const warnings: string[] = [];
    const reporter = { info: () => undefined, warn: (m: string) => warnings.push(m) };
    const open = async (extra: Partial<ExecOptions>) =>
      openBackfillThrottle({ client: await db.connect('tandem-worker'), migrationId, table: 'users', slice: 0, options: { ...defaultExecOptions, ...extra }, reporter });

    const sql = await open({ throttleSql: `SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'tandem-worker';` });
    await batch(sql);
    assert.match(sql.pacing.reason ?? '', /throttle-sql asked to slow down/);
    await sql.close();

    const broken = await open({ throttleSql: 'SELECT no_such_column FROM users' });
    await batch(broken);
    await batch(broken);
    assert.match(broken.pacing.reason ?? '', /throttle-sql/);
    assert.equal(warnings.filter((w) => w.includes('--throttle-sql failed')).length, 1, warnings.join('\n'));
    await broken.close();

    const url = await open({ throttleUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health` });
    await batch(url);
    assert.match(url.pacing.reason ?? '', /throttle-url asked to slow down/);
    answer = 200;
    await waitFor('the url to let it go', async () => {
      await batch(url);
      return url.pacing.backoffLevel === 0;
    });
    await url.close();
  } finally {
    server.close();
  }
});

test('bad input changes nothing: no migration in progress, a batch size below 1 (exit 2)', async () => {
  const empty = await createTestDatabase();
  try {
    const none = await runCli(['--database-url', empty.url, 'backfill', 'pause']);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no migration is in progress/);
    const tandem = await empty.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'tandem'`);
    assert.equal(tandem.rowCount, 0, 'the state schema was not created');
  } finally {
    await empty.drop();
  }
  const controls = async () => JSON.stringify((await db.query(`SELECT * FROM tandem.backfill_controls`)).rows);
  const before = await controls();
  for (const size of ['-5', '0']) {
    const r = await runCli(['--database-url', db.url, 'backfill', 'set', '--batch-size', size]);
    assert.equal(r.code, 2, `--batch-size ${size}: ${r.stderr}`);
    assert.match(r.stderr, /batch-size/);
    assert.equal(await controls(), before, `--batch-size ${size} changed nothing`);
  }
});
