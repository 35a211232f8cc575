/**
 * When a DDL step gives up on its lock, it names the sessions that really blocked it
 * (pg_blocking_pids of the waiting statement), not every session that happened to hold a lock
 * on the table: application sessions doing short autocommit writes hold a RowExclusiveLock for a
 * millisecond at a time and are not the cause.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import type { TrafficShape } from '../../src/traffic/workload.js';
import { killSpawned, spawnCli, startTraffic, writeMigrationFile } from './support.js';

const ROWS = 1_000;
let db: TestDatabase;
const stops: (() => Promise<void>)[] = [];

beforeEach(async () => {
  db = await createTestDatabase();
  await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, n integer NOT NULL DEFAULT 0)`);
  await db.query(`INSERT INTO items SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
  await db.query(`CREATE TABLE other (id integer PRIMARY KEY)`);
});
afterEach(async () => {
  killSpawned();
  for (const stop of stops.splice(0)) await stop();
  await db?.drop();
});

async function pidOf(client: pg.Client): Promise<number> {
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

/** The table as the traffic generator's clients see it: short autocommit statements on `items`. */
const itemsShape: TrafficShape = {
  oldTable: 'items',
  newTable: null,
  oldColumns: [{ name: 'n', gen: (g) => g.n }],
  newColumns: [],
  toNew: (o) => o,
  toOld: (n) => n,
  seedRow: () => ({ n: 0 }),
  appPrefix: 'short-writer-',
};

test('a step that gives up names the session blocking it, not the sessions doing short writes', { timeout: 60_000 }, async () => {
  // The blocker: a long transaction holding ACCESS SHARE (a plain SELECT), which conflicts with
  // the ACCESS EXCLUSIVE that ADD COLUMN needs.
  const blocker = await db.connect('long-report');
  await blocker.query('BEGIN');
  await blocker.query('SELECT count(*) FROM items');
  const blockerPid = await pidOf(blocker);
  stops.push(async () => void (await blocker.query('ROLLBACK').catch(() => undefined)));
  // Several sessions of short autocommit reads and writes (RowExclusiveLock for a millisecond).
  const writers = await startTraffic(db, { shape: itemsShape, seedRows: ROWS, clients: 4 });
  stops.push(() => writers.stop());

  // A first step on another table commits, so the migration stays recorded (with its last error).
  const file = writeMigrationFile('b1_add_note', {
    operations: [
      { add_column: { table: 'other', column: { name: 'note', type: 'text', nullable: true } } },
      { add_column: { table: 'items', column: { name: 'note', type: 'text', nullable: true } } },
    ],
  });
  const run = await spawnCli(['start', file, '--lock-timeout', '50', '--lock-retry-for', '1500', '--json'], db.url).done;

  assert.equal(run.code, 1, run.stderr);
  // The message, the migration's last_error and the audit log name the blocker and no writer.
  const lastError = (await db.query(`SELECT last_error FROM tandem.migrations WHERE name = 'b1_add_note'`)).rows[0].last_error as { message: string };
  const audited = (await db.query<{ error: string }>(`SELECT error FROM tandem.audit_log WHERE outcome = 'lock_timeout' ORDER BY id`)).rows.map((r) => r.error);
  const texts = {
    stderr: run.stderr,
    message: (JSON.parse(run.stdout) as { error: { message: string } }).error.message,
    lastError: lastError.message,
    audit: audited.slice(-1)[0] ?? '',
  };
  for (const [where, text] of Object.entries(texts)) {
    assert.match(text, new RegExp(`pid ${blockerPid}\\b`), `${where} names the blocker: ${text}`);
    for (const pid of writers.pids) assert.doesNotMatch(text, new RegExp(`pid ${pid}\\b`), `${where} does not name short writer ${pid}: ${text}`);
  }

  const error = JSON.parse(run.stdout).error as { code: string; blockers: { pid: number }[]; message: string };
  assert.equal(error.code, 'lock-timeout');
  const named = error.blockers.map((b) => b.pid);
  assert.deepEqual(named, [blockerPid], `blockers named: ${JSON.stringify(error.blockers)}; short writers ${writers.pids.join(', ')}`);
  await writers.stop();
  const traffic = writers.recorder.phases[0]!;
  assert.ok(writers.ledger.acknowledged > 100, `the short writers really ran (${writers.ledger.acknowledged} writes)`);
  assert.deepEqual(traffic.errors, [], 'no application statement failed');
});

test('a budget shorter than one retry still names the blocker: one more observed wait, rolled back', { timeout: 60_000 }, async () => {
  const blocker = await db.connect('long-report');
  await blocker.query('BEGIN');
  await blocker.query('SELECT count(*) FROM items');
  const blockerPid = await pidOf(blocker);
  stops.push(async () => void (await blocker.query('ROLLBACK').catch(() => undefined)));
  const writers = await startTraffic(db, { shape: itemsShape, seedRows: ROWS, clients: 2 });
  stops.push(() => writers.stop());

  const file = writeMigrationFile('b2_add_note', { operations: [{ add_column: { table: 'items', column: { name: 'note', type: 'text', nullable: true } } }] });
  // 50 ms per wait, 10 ms in all: the step gives up after its first attempt.
  const run = await spawnCli(['start', file, '--lock-timeout', '50', '--lock-retry-for', '10', '--json'], db.url).done;
  assert.equal(run.code, 1, run.stderr);
  const error = JSON.parse(run.stdout).error as { code: string; attempts: number; blockers: { pid: number }[] };
  assert.equal(error.code, 'lock-timeout');
  assert.equal(error.attempts, 1);
  assert.deepEqual(
    error.blockers.map((b) => b.pid),
    [blockerPid],
    `short writers ${writers.pids.join(', ')}`,
  );
  // The observing wait was rolled back: the column was not added.
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'`)).rows[0].n, 0);
});
