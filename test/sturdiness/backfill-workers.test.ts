/**
 * The parallel backfill with real processes and real kill -9: slices are claimed through the
 * database (FOR UPDATE SKIP LOCKED, then a session advisory lock held by the worker's own
 * connection), so a killed worker's slices are taken over by a live worker, of this process or of
 * another, and resumed from their checkpoints. Every row ends exact, none missed, none twice.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { TestDatabase } from '../helpers/db.js';
import { writeMigrationFile } from '../concurrency/support.js';
import { cli, freshDatabase, killSpawned, spawnCli, waitFor } from './support.js';

const ROWS = 40_000;
const SETUP = `
  CREATE TABLE items (id integer PRIMARY KEY, name text, qty text);
  INSERT INTO items SELECT g, CASE WHEN g % 11 = 0 THEN NULL ELSE 'Item ' || g END, (g % 97)::text FROM generate_series(1, ${ROWS}) g;
  ANALYZE items;`;
const doc = {
  name: 'w1_qty_integer',
  operations: [
    {
      alter_column: {
        table: 'items',
        column: 'qty',
        type: 'integer',
        nullable: false,
        up: "coalesce(CAST(qty AS integer), 0) + length(coalesce(name, ''))",
        down: 'CAST(qty AS text)',
      },
    },
  ],
};
// Slow enough (small batches, a delay) that a kill lands in the middle of the slices.
const PACE = ['--batch-size', '100', '--batch-delay', '40', '--lock-timeout', '1000'];

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop();
});

/** Slices claimed right now, and by which backends' application_name. */
async function claims(db: TestDatabase): Promise<{ slice_key: string; app: string }[]> {
  const r = await db.query<{ slice_key: string; app: string }>(
    `SELECT l.objid::text AS slice_key, a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.classid = ${0x7a4e}::oid AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return r.rows;
}

interface SliceRow {
  slice: number;
  last_key: string[] | null;
  range_start: string[] | null;
  done: boolean;
  rows_done: number;
}

async function slices(db: TestDatabase): Promise<SliceRow[]> {
  const r = await db.query<SliceRow>(`SELECT slice, last_key, range_start, done, rows_done::int FROM tandem.backfill_checkpoints ORDER BY slice`).catch(() => undefined);
  return r?.rows ?? [];
}

/** The new column's physical name, and the checks that every row is exact and in sync. */
async function assertExact(db: TestDatabase): Promise<void> {
  const shadow = await db.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname LIKE '%qty%' AND attname <> 'qty' AND NOT attisdropped`,
  );
  assert.equal(shadow.rowCount, 1, 'one shadow column of qty');
  const col = `"${shadow.rows[0]!.attname}"`;
  const wrong = await db.query(
    `SELECT count(*)::int AS n FROM items WHERE ${col} IS DISTINCT FROM coalesce(CAST(qty AS integer), 0) + length(coalesce(name, '')) OR _tandem_synced IS NOT TRUE`,
  );
  assert.equal(wrong.rows[0].n, 0, 'every row exact and in sync');
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM items`)).rows[0].n, ROWS);
  const cps = await slices(db);
  assert.ok(cps.length > 1, 'the key space was split into slices');
  assert.ok(
    cps.every((c) => c.done),
    'every slice done',
  );
  // Each row was written once by the backfill: a killed batch rolled back with its checkpoint.
  assert.equal(
    cps.reduce((n, c) => n + c.rows_done, 0),
    ROWS,
    'rows done add up to the table, none twice',
  );
}

test('two processes: the joiner (backfill run --workers 2) is killed -9 mid-slice; the runner takes its slices over and finishes', async () => {
  const db = await freshDatabase(SETUP, dbs);
  const file = writeMigrationFile(doc.name, doc);
  const runner = spawnCli(['start', file, '--workers', '2', ...PACE], db.url);
  await waitFor('the runner to split the table and begin', async () => (await slices(db)).some((s) => s.rows_done > 0), 60_000);
  const joiner = spawnCli(['backfill', 'run', '--workers', '2', ...PACE], db.url);
  const tag = `tandem-backfill pid ${joiner.child.pid}`;
  // Both of the joiner's workers hold a slice, and have moved its checkpoint.
  const held = await waitFor(
    'the joiner to work two slices',
    async () => {
      const mine = (await claims(db)).filter((c) => c.app === tag);
      if (mine.length < 2) return undefined;
      return (await slices(db)).some((s) => !s.done && s.last_key !== null && s.range_start !== null) ? mine : undefined;
    },
    60_000,
  );
  assert.equal(held.length, 2);
  joiner.child.kill('SIGKILL');
  const killed = await joiner.done;
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(
    (await slices(db)).some((s) => !s.done),
    'killed with slices left to do',
  );

  const r = await runner.done;
  assert.equal(r.code, 0, r.stderr);
  await assertExact(db);
  // The killed worker's claims went with its sessions.
  assert.deepEqual(
    (await claims(db)).filter((c) => c.app === tag),
    [],
  );
});

test('the runner (start --workers 2) is killed -9 mid-slice; a rerun resumes every slice from its checkpoint and finishes', async () => {
  const db = await freshDatabase(SETUP, dbs);
  const file = writeMigrationFile(doc.name, doc);
  const first = spawnCli(['start', file, '--workers', '2', ...PACE], db.url);
  const before = await waitFor(
    'two slices under way',
    async () => {
      const s = await slices(db);
      return s.filter((x) => x.last_key !== null && !x.done).length >= 2 ? s : undefined;
    },
    60_000,
  );
  first.child.kill('SIGKILL');
  await first.done;
  const atKill = await slices(db);
  assert.ok(atKill.some((s) => !s.done));
  // Checkpoints only move forward, from where they were when killed.
  for (const s of before) assert.ok(atKill.find((x) => x.slice === s.slice)!.rows_done >= s.rows_done);

  const rerun = await cli(['start', file, '--workers', '2', '--batch-size', '500', '--lock-timeout', '1000'], db.url);
  assert.equal(rerun.code, 0, rerun.stderr);
  await assertExact(db);
});
