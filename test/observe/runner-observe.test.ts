// @tier slow — several CLI runs of a backfill under observation; run once in CI
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { killSpawned, spawnCli, waitFor, writeMigrationFile } from '../concurrency/support.js';
import { freePort, sample, scrape } from './support.js';

const ALTER = {
  operations: [{ alter_column: { table: 'users', column: 'name', type: 'varchar(100)', up: 'name', down: 'name' } }],
};

async function usersTable(db: TestDatabase, rows: number): Promise<void> {
  await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, name text)`);
  await db.query(`INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, $1::int) g`, [rows]);
  await db.query('ANALYZE users');
}

async function checkpointRows(db: TestDatabase): Promise<number> {
  const r = await db.query<{ n: string | null }>(`SELECT sum(rows_done)::text AS n FROM tandem.backfill_checkpoints`).catch(() => ({ rows: [{ n: null }] }));
  return Number(r.rows[0]?.n ?? 0);
}

describe('the runner observed: --metrics-port, --log-format json, --on-event, --webhook', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });
  afterEach(() => killSpawned());

  test('metrics scraped during a backfill parse as Prometheus text and the rows counter matches tandem.backfill_checkpoints', async () => {
    await usersTable(db, 20_000);
    const port = await freePort();
    const file = writeMigrationFile('m1_alter', ALTER);
    const run = spawnCli(['start', file, '--batch-size', '150', '--batch-delay', '10', '--metrics-port', String(port)], db.url);
    const url = `http://127.0.0.1:${port}/metrics`;
    // A scrape while the backfill is under way: between the checkpoint sums read before and after it.
    const seen = await waitFor('a scrape in the middle of the backfill', async () => {
      const before = await checkpointRows(db);
      if (before === 0) return undefined;
      const s = await scrape(url).catch(() => undefined);
      const afterScrape = await checkpointRows(db);
      const rows = s && sample(s, 'tandem_backfill_rows_total', { table: 'users' });
      if (!s || rows === undefined || sample(s, 'tandem_backfill_done', { table: 'users' }) !== 0) return undefined;
      // (the batch-duration histogram is told just after a batch commits: wait for its first one)
      if (!s.families.get('tandem_backfill_batch_duration_seconds')?.samples.length) return undefined;
      return { s, rows, before, afterScrape };
    });
    assert.ok(seen.rows >= seen.before && seen.rows <= seen.afterScrape, `scraped ${seen.rows}, checkpoints ${seen.before}..${seen.afterScrape}`);
    const batches = seen.s.families.get('tandem_backfill_batch_duration_seconds');
    assert.equal(batches?.type, 'HISTOGRAM');
    assert.ok((batches?.samples[0]?.value ?? 0) > 0, 'the runner counts its batches in the duration histogram');
    assert.equal(seen.s.families.get('tandem_backfill_rows_total')?.type, 'COUNTER');
    assert.equal(sample(seen.s, 'tandem_migration_phase', { migration: 'm1_alter', phase: 'starting' }), 1);
    // expand, backfill, narrow the sync trigger, create the version schema
    assert.equal(sample(seen.s, 'tandem_migration_steps_total', { migration: 'm1_alter', phase: 'start' }), 4);
    assert.ok((sample(seen.s, 'tandem_backfill_rows_estimated', { table: 'users' }) ?? 0) > 15_000, 'the estimate comes from the table statistics');
    const done = await run.done;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, new RegExp(`metrics: http://127\\.0\\.0\\.1:${port}/metrics`));
    // The endpoint goes away with the runner.
    await assert.rejects(fetch(url));
    assert.equal((await spawnCli(['complete'], db.url).done).code, 0);
  });

  test('--log-format json: every stderr line is one JSON event, no password or full connection string', async () => {
    const withPassword = new URL(db.url);
    if (!withPassword.password) withPassword.password = 'not-a-real-secret-123';
    const file = writeMigrationFile('m2_shout', { operations: [{ add_column: { table: 'users', up: 'upper(name)', column: { name: 'shout', type: 'text' } } }] });
    const run = spawnCli(['start', file, '--complete', '--log-format', 'json', '--batch-size', '5000'], withPassword.toString());
    const done = await run.done;
    assert.equal(done.code, 0, done.stderr);
    const lines = done.stderr.split('\n').filter(Boolean);
    const events = lines.map((l) => JSON.parse(l) as { event: string; level: string; time: string; phase?: string; outcome?: string });
    const kinds = new Set(events.map((e) => e.event));
    for (const k of ['step', 'step-attempt', 'phase-change', 'backfill-progress', 'backfill-batch', 'command-done'])
      assert.ok(kinds.has(k), `a ${k} event (got ${[...kinds].join(', ')})`);
    assert.deepEqual(
      events.filter((e) => e.event === 'phase-change').map((e) => e.phase),
      ['active', 'completing', 'completed'],
    );
    assert.ok(events.every((e) => typeof e.time === 'string' && typeof e.level === 'string'));
    // (a short password such as the embedded server's "tandem" is also an ordinary word of the output)
    assert.ok(!done.stderr.includes(`:${withPassword.password}@`), 'the password is never logged');
    if (withPassword.password.length >= 12) assert.ok(!done.stderr.includes(withPassword.password), 'the password appears nowhere');
    assert.ok(!done.stderr.includes(withPassword.toString()), 'nor the connection string');
    // stdout still holds the command's own result only.
    assert.match(done.stdout, /started and completed/);
  });

  test('--on-event and --webhook are told of phase changes, completion and failure, with a JSON payload', async () => {
    const received: unknown[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-hooks-'));
      const hookLog = path.join(dir, 'events.jsonl');
      const hook = `cat >> '${hookLog}'; echo "$TANDEM_EVENT $TANDEM_PHASE" >> '${hookLog}.env'`;
      const webhook = `http://127.0.0.1:${port}/hook?secret=not-logged`;
      const file = writeMigrationFile('m3_rename', { operations: [{ rename_column: { table: 'users', from: 'shout', to: 'loud' } }] });
      const ok = await spawnCli(['start', file, '--on-event', hook, '--webhook', webhook], db.url).done;
      assert.equal(ok.code, 0, ok.stderr);
      const fromHook = readFileSync(hookLog, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; phase?: string; migration?: string; tandem: { command: string } });
      assert.deepEqual(
        fromHook.map((e) => [e.event, e.phase ?? null]),
        [
          ['phase-change', 'active'],
          ['command-done', null],
        ],
      );
      assert.equal(fromHook[0]!.migration, 'm3_rename');
      assert.equal(fromHook[1]!.tandem.command, 'start');
      assert.deepEqual(readFileSync(`${hookLog}.env`, 'utf8').trim().split('\n'), ['phase-change active', 'command-done']);
      assert.deepEqual(received, fromHook, 'the webhook gets the same payloads');
      assert.equal((await spawnCli(['complete'], db.url).done).code, 0);

      // A failure: the hook is told with the error's code and exit code; the hook's own URL query is not logged.
      const bad = writeMigrationFile('m4_bad', { operations: [{ drop_column: { table: 'no_such_table', column: 'x' } }] });
      received.length = 0;
      const failed = await spawnCli(['start', bad, '--webhook', webhook], db.url).done;
      assert.equal(failed.code, 2);
      assert.equal(received.length, 1);
      const payload = received[0] as unknown as { event: string; code: string; exitCode: number; message: string };
      assert.equal(payload.event, 'command-failed');
      assert.equal(payload.exitCode, 2);
      assert.equal(payload.code, 'table-not-found');
      assert.match(payload.message, /no_such_table/);
    } finally {
      server.close();
    }
  });

  test('a hook that fails or hangs never fails the migration', async () => {
    const file = writeMigrationFile('m5_comment', { operations: [{ rename_column: { table: 'users', from: 'loud', to: 'louder' } }] });
    const r = await spawnCli(['start', file, '--complete', '--on-event', 'exit 3', '--webhook', 'http://127.0.0.1:9/unreachable'], db.url).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--on-event hook failed: exit code 3/);
    assert.match(r.stderr, /--webhook http:\/\/127\.0\.0\.1:9\/unreachable failed/);
  });
});
