/**
 * The backfill's plain batches (one UPDATE of the next keys' range, src/exec/backfill-sql.ts) and
 * the sync trigger narrowed to its columns once the backfill is done (src/plan/trigger.ts).
 *
 * - A row an application holds locked: the plain batch gives up on it after its short
 *   lock_timeout, is redone locking (SKIP LOCKED), the key is stored and filled once released;
 *   the backfill goes past it while it is held.
 * - During the backfill every UPDATE fires the trigger: an update of an unrelated column of a row
 *   not yet filled fills it (its shadow's NOT NULL check is enforced on every new row version).
 * - Once narrowed, an UPDATE of a column the trigger neither reads nor writes fires no trigger
 *   (what the server's EXPLAIN ANALYZE counts), one of a column it reads does.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type pg from 'pg';
import { start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../concurrency/support.js';

const dbs: TestDatabase[] = [];
const clients: pg.Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.end().catch(() => undefined);
  for (const d of dbs.splice(0)) await d.drop();
});

async function items(rows: number): Promise<{ db: TestDatabase; runner: pg.Client; app: pg.Client }> {
  const db = await createTestDatabase();
  dbs.push(db);
  const runner = await db.connect();
  const app = await db.connect();
  clients.push(runner, app);
  await runner.query(`CREATE TABLE items (id integer PRIMARY KEY, qty text, memo text);
    INSERT INTO items SELECT g, (g % 89)::text, NULL FROM generate_series(1, ${rows}) g; ANALYZE items;`);
  return { db, runner, app };
}

const retype = parseMigration(
  {
    name: 'p1_qty',
    operations: [{ alter_column: { table: 'items', column: 'qty', type: 'integer', nullable: false, up: 'coalesce(CAST(qty AS integer), 0)', down: 'CAST(qty AS text)' } }],
  },
  undefined,
);

async function wrongRows(c: pg.Client): Promise<number> {
  const r = await c.query(`SELECT count(*)::int AS n FROM items WHERE _tandem_new_qty IS DISTINCT FROM coalesce(CAST(qty AS integer), 0) OR _tandem_synced IS NOT TRUE`);
  return r.rows[0].n as number;
}

test(
  'a row an application holds: the plain batch gives up on it, the batch is redone locking, the backfill goes past it, the row is filled once released',
  { timeout: 60_000 },
  async () => {
    const { runner, app } = await items(3_000);
    // Slow batches: the row is locked after the expand step (which waits for every transaction
    // holding rows of the table) and long before the backfill reaches it.
    const run = start(runner, retype, { lockTimeoutMs: 1_000, batchSize: 100, batchDelayMs: 100 });
    const observer = await dbs[0]!.connect();
    clients.push(observer);
    await waitFor('the expand step', async () => (await observer.query(`SELECT 1 FROM pg_trigger WHERE tgname LIKE '_tandem_sync%'`)).rowCount === 1, 20_000);
    await app.query('BEGIN');
    await app.query('SELECT 1 FROM items WHERE id = 2800 FOR UPDATE');
    // Past the held row while it is still held: the checkpoint beyond it and its key stored.
    await waitFor(
      'the backfill to pass the held row',
      async () => {
        const r = await observer
          .query(
            `SELECT (SELECT max(last_key[1]::int) FROM tandem.backfill_checkpoints) AS last, (SELECT count(*)::int FROM tandem.backfill_skipped WHERE key = '{2800}') AS skipped`,
          )
          .catch(() => undefined); // the state schema is not there yet
        return r !== undefined && (r.rows[0].last ?? 0) > 2_900 && r.rows[0].skipped === 1;
      },
      20_000,
    );
    await app.query('COMMIT');
    await run;
    assert.equal(await wrongRows(runner), 0);
    assert.equal((await runner.query(`SELECT count(*)::int AS n FROM tandem.backfill_skipped`)).rows[0].n, 0);
  },
);

test('during the backfill an update of an unrelated column fills its row; once narrowed, such an update fires no trigger', { timeout: 60_000 }, async () => {
  const { runner, app } = await items(2_000);
  const run = start(runner, retype, { lockTimeoutMs: 1_000, batchSize: 50, batchDelayMs: 100 });
  await waitFor('the expand step', async () => (await app.query(`SELECT 1 FROM pg_trigger WHERE tgname LIKE '_tandem_sync%'`)).rowCount === 1, 20_000);
  // A row the backfill reaches last, written by the old version before it gets there.
  await app.query(`UPDATE items SET memo = 'written during the backfill' WHERE id = 1999`);
  const row = await app.query(`SELECT _tandem_new_qty, _tandem_synced FROM items WHERE id = 1999`);
  assert.deepEqual(row.rows[0], { _tandem_new_qty: 1999 % 89, _tandem_synced: true });
  // (its checkpoint rows may not even exist yet: the backfill step starts after the expand step)
  const backfillDone = await app.query(`SELECT count(*)::int AS n FROM tandem.steps WHERE step_id = 'backfill:items'`);
  assert.equal(backfillDone.rows[0].n, 0, 'the update came before the backfill was done');
  await run;
  assert.equal(await wrongRows(runner), 0);

  // The writer's version is its search_path (or tandem.version), as the application's would be.
  const triggersOf = async (sql: string, version = 'public') => {
    await app.query('BEGIN');
    await app.query(`SET LOCAL search_path = ${version}`);
    try {
      const plan = (await app.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`)).rows[0]['QUERY PLAN'] as [{ Triggers: { 'Trigger Name': string; Calls: number }[] }];
      return plan[0].Triggers.filter((t) => t['Trigger Name'].startsWith('_tandem_sync')).map((t) => t.Calls);
    } finally {
      await app.query('ROLLBACK');
    }
  };
  assert.deepEqual(await triggersOf(`UPDATE items SET memo = 'x' WHERE id = 5`), [], 'an unrelated column: no trigger');
  assert.deepEqual(await triggersOf(`UPDATE items SET memo = 'x' WHERE id = 5`, 'public_p1_qty'), [], 'through the new version too');
  assert.deepEqual(await triggersOf(`UPDATE items SET qty = '7' WHERE id = 5`), [1], 'a column up reads');
  assert.deepEqual(await triggersOf(`UPDATE items SET qty = 7 WHERE id = 5`, 'public_p1_qty'), [1], 'a column down reads');
  assert.deepEqual(await triggersOf(`INSERT INTO items (id, qty) VALUES (5000, '3')`), [1], 'every insert');
  // What the trigger computes is still right after such updates.
  await app.query(`UPDATE items SET memo = 'later' WHERE id = 5`);
  await app.query(`BEGIN; SET LOCAL search_path = public_p1_qty; UPDATE items SET qty = 42 WHERE id = 6; COMMIT`);
  assert.deepEqual((await app.query(`SELECT qty FROM items WHERE id = 6`)).rows[0], { qty: '42' });
  assert.equal(await wrongRows(runner), 0);
});
