/**
 * Defect 1 of issue 7: rows an application transaction holds locked when the keyset backfill
 * passes are skipped (SKIP LOCKED). If `start` dies before it revisits them, the run that resumes
 * must still fill them: "every row is in sync" is checked from the database, not from memory.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { TestDatabase } from '../helpers/db.js';
import { writeMigrationFile } from '../concurrency/support.js';
import { checkpointOf, stepDone, cli, freshDatabase, killSpawned, migrations, runnerHolders, spawnCli, waitFor } from './support.js';

const ROWS = 3_000;
const LOCKED = { from: 1_500, to: 1_510 };
const setup = (key: string) => `
  CREATE TABLE items (id integer ${key}, qty text, memo text);
  INSERT INTO items SELECT g, (g % 89)::text, CASE WHEN g % 3 = 0 THEN NULL ELSE 'm' || g END FROM generate_series(1, ${ROWS}) g;
  ANALYZE items;`;

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop();
});

interface Variant {
  title: string;
  name: string;
  operation: Record<string, unknown>;
  /** The new version's value of the changed column, as SQL over the old columns. */
  expected: string;
  column: string;
  /** Without a primary or unique key the backfill walks heap pages (ctid), its checkpoint a page number. */
  keyed: boolean;
}

const variants: Variant[] = [
  {
    title: 'NOT NULL change (alter_column nullable: false with an up coalesce)',
    name: 'b1_memo_not_null',
    operation: { alter_column: { table: 'items', column: 'memo', nullable: false, up: "coalesce(memo, '-')" } },
    expected: `coalesce(memo, '-')`,
    column: 'memo',
    keyed: true,
  },
  {
    title: 'nullable type change (text to integer)',
    name: 'b1_qty_integer',
    operation: { alter_column: { table: 'items', column: 'qty', type: 'integer', up: 'CAST(qty AS integer)', down: 'CAST(qty AS text)' } },
    expected: `CAST(qty AS integer)`,
    column: 'qty',
    keyed: true,
  },
  {
    title: 'table without a key (ctid ranges), nullable type change',
    name: 'b1_qty_integer_no_key',
    operation: { alter_column: { table: 'items', column: 'qty', type: 'integer', up: 'CAST(qty AS integer)', down: 'CAST(qty AS text)' } },
    expected: `CAST(qty AS integer)`,
    column: 'qty',
    keyed: false,
  },
];

for (const v of variants) {
  test(`kill -9 after the backfill passed rows an application held locked, ${v.title}: the resumed start fills them`, { timeout: 120_000 }, async () => {
    const db = await freshDatabase(setup(v.keyed ? 'PRIMARY KEY' : 'NOT NULL'), dbs);
    // Where the checkpoint is past the locked rows: their last key, or (ctid) the last heap page holding one.
    const lockedPages = (
      await db.query(`SELECT min((ctid::text::point)[0])::int AS first, max((ctid::text::point)[0])::int AS last FROM items WHERE id BETWEEN $1 AND $2`, [LOCKED.from, LOCKED.to])
    ).rows[0];
    const before = v.keyed ? LOCKED.from : (lockedPages.first as number);
    const past = v.keyed ? LOCKED.to + 80 : (lockedPages.last as number) + 2;
    const expected = new Map((await db.query(`SELECT id, (${v.expected})::text AS value FROM items ORDER BY id`)).rows.map((r) => [r.id as number, r.value as string | null]));
    const file = writeMigrationFile(v.name, { name: v.name, operations: [v.operation] });

    // Batches slow enough that the application can lock its rows after the expand step (which
    // needs ACCESS EXCLUSIVE on the table, so it waits for any transaction holding rows) and
    // before the backfill reaches them.
    const run = spawnCli(['start', file, '--batch-size', '40', '--batch-delay', v.keyed ? '60' : '250'], db.url);
    await waitFor('the expand step to commit', () => stepDone(db, 'expand:items'), 30_000);

    // An application transaction holds some rows in the middle of the key range.
    const app = await db.connect('app-holding-rows');
    await app.query('BEGIN');
    const held = await app.query(`SELECT id FROM items WHERE id BETWEEN $1 AND $2 FOR UPDATE`, [LOCKED.from, LOCKED.to]);
    assert.equal(held.rowCount, LOCKED.to - LOCKED.from + 1);
    const reached = (await checkpointOf(db, 'items'))?.last_key;
    assert.ok(!reached || Number(reached[0]) < before, `the rows were locked before the backfill reached them (checkpoint ${reached})`);

    await waitFor(
      'the backfill checkpoint to pass the locked keys',
      async () => {
        const cp = await checkpointOf(db, 'items');
        return cp?.last_key && Number(cp.last_key[0]) >= past;
      },
      60_000,
    );
    run.child.kill('SIGKILL');
    assert.equal((await run.done).signal, 'SIGKILL');
    await waitFor('the dead runner to be gone', async () => (await runnerHolders(db)).length === 0, 10_000);
    assert.equal((await checkpointOf(db, 'items'))?.done, false, 'killed before the backfill was marked done');

    // The application lets go of its rows without writing them (nothing the trigger would sync).
    await app.query('ROLLBACK');

    const again = await cli(['start', file, '--wait'], db.url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      (await migrations(db)).map((m) => m.phase),
      ['active'],
    );

    const viaNewVersion = async (schema: string) =>
      new Map((await db.query(`SELECT id, ${v.column}::text AS value FROM ${schema}.items ORDER BY id`)).rows.map((r) => [r.id as number, r.value as string | null]));
    const wrong = (actual: Map<number, string | null>) => [...expected].filter(([id, value]) => actual.get(id) !== value).map(([id]) => id);

    const afterStart = await viaNewVersion(`public_${v.name}`);
    assert.equal(afterStart.size, ROWS);
    assert.deepEqual(wrong(afterStart), [], 'every row reads its up(old) value through the new version schema');
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM items WHERE _tandem_synced IS NOT TRUE`)).rows[0].n, 0);

    const done = await cli(['complete'], db.url);
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(wrong(await viaNewVersion('public')), [], 'after complete the table holds the same values');
    assert.deepEqual(wrong(await viaNewVersion(`public_${v.name}`)), []);
  });
}
