/**
 * What keeps writes cheap while a migration is active (docs/write-cost.md): an UPDATE of a column
 * that no `up`/`down` reads stays a HOT update through either version — the sync trigger writes
 * back the values the row already holds, and the new columns are not indexed until complete — and
 * the trigger's function recomputes only the columns the migration changes, and is not run at all
 * for the set-based backfill's writes (its WHEN clause).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { migration, newVersion, run, withDatabase } from './support.js';

const ROWS = 60;
// fillfactor 50: every page has room for a new version of its rows, so an update is HOT unless it changes an indexed column.
const SETUP = `
  CREATE TABLE acct (id integer PRIMARY KEY, balance integer NOT NULL, filler text, c3 text) WITH (fillfactor = 50);
  CREATE INDEX acct_balance ON acct (balance);
  CREATE INDEX acct_c3 ON acct (c3);
  INSERT INTO acct SELECT g, g % 100, 'f', 'c3-' || g FROM generate_series(1, ${ROWS}) g;
`;

interface Counts {
  upd: number;
  hot: number;
}

async function updateCounts(client: pg.Client): Promise<Counts> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const r = await client.query<{ upd: string; hot: string }>(`SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relid = 'public.acct'::regclass`);
  return { upd: Number(r.rows[0]!.upd), hot: Number(r.rows[0]!.hot) };
}

/**
 * A session's table statistics reach pg_stat_user_tables some time after its commits: make it send
 * them now (PostgreSQL 15+), or, on 14, at its next statement once half a second has passed.
 */
async function flushStats(client: pg.Client): Promise<void> {
  const v = Number((await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
  if (v >= 150000) await client.query('SELECT pg_stat_force_next_flush()');
  else {
    await new Promise((r) => setTimeout(r, 600));
    await client.query('SELECT 1');
  }
}

/** The counts once the backfill's own updates have reached the statistics (they stop moving). */
async function settledCounts(client: pg.Client): Promise<Counts> {
  const deadline = Date.now() + 8_000;
  let last = await updateCounts(client);
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await updateCounts(client);
    if ((now.upd === last.upd && now.upd >= ROWS) || Date.now() > deadline) return now;
    last = now;
  }
}

/** The statistics reach pg_stat_user_tables a little after the commit (PostgreSQL 14: through the collector). */
async function countsAfter(client: pg.Client, base: Counts, updates: number): Promise<Counts> {
  const deadline = Date.now() + 8_000;
  for (;;) {
    const now = await updateCounts(client);
    if (now.upd - base.upd >= updates || Date.now() > deadline) return { upd: now.upd - base.upd, hot: now.hot - base.hot };
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('while a migration is active, an update of an unrelated column stays HOT through both versions, and the trigger touches only the changed columns', async () => {
  await withDatabase(SETUP, async (env) => {
    await run(
      env,
      migration({
        name: 'm1',
        operations: [
          { alter_column: { table: 'acct', column: 'balance', type: 'bigint', up: 'CAST(balance AS bigint)', down: 'CAST(balance AS integer)' } },
          { add_column: { table: 'acct', column: { name: 'note', type: 'text', nullable: true }, up: 'upper(c3)' } },
        ],
      }),
    );
    // The backfill moved every row once; a VACUUM leaves each page its room again.
    await env.engine.query('VACUUM acct');
    const neu = await newVersion(env.db, 'public_m1');

    await flushStats(env.engine);
    const base = await settledCounts(env.engine);
    for (let id = 1; id <= 20; id++) await env.old.query(`UPDATE acct SET filler = 'old' || $1::text WHERE id = $1`, [id]);
    for (let id = 21; id <= 40; id++) await neu.query(`UPDATE acct SET filler = 'new' || $1::text WHERE id = $1`, [id]);
    await Promise.all([flushStats(env.old), flushStats(neu)]);
    const counts = await countsAfter(env.engine, base, 40);
    assert.equal(counts.upd, 40, 'every update counted');
    assert.equal(counts.hot, 40, `${counts.hot} of ${counts.upd} updates of an unrelated column were HOT`);

    // The trigger ran on them (the rows are still in sync both ways), and a write of a source
    // column is synced (and, as it changes an indexed column, is not HOT).
    await env.old.query(`UPDATE acct SET c3 = 'changed', balance = 7 WHERE id = 5`);
    await neu.query(`UPDATE acct SET balance = 9 WHERE id = 25`);
    assert.deepEqual((await neu.query(`SELECT id, balance, note, filler FROM acct WHERE id IN (5, 25) ORDER BY id`)).rows, [
      { id: 5, balance: '7', note: 'CHANGED', filler: 'old5' },
      { id: 25, balance: '9', note: 'C3-25', filler: 'new25' },
    ]);
    assert.deepEqual((await env.old.query(`SELECT balance FROM acct WHERE id = 25`)).rows, [{ balance: 9 }]);

    // One function for the table; its body names no column the migration leaves alone, and
    // once start is done the trigger fires only for updates of the columns it reads or writes
    // (no WHEN clause, which PostgreSQL would prepare for every statement).
    const fn = await env.engine.query<{ src: string }>(
      `SELECT p.prosrc AS src FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'tandem' AND p.proname LIKE 'sync\\_%acct'`,
    );
    assert.equal(fn.rows.length, 1);
    assert.doesNotMatch(fn.rows[0]!.src, /filler/);
    const trigger = await env.engine.query<{ def: string }>(`SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = 'public.acct'::regclass AND NOT tgisinternal`);
    assert.equal(trigger.rows.length, 1);
    assert.match(trigger.rows[0]!.def, /BEFORE INSERT OR UPDATE OF balance, c3, _tandem_new_balance, note, _tandem_synced ON public\.acct FOR EACH ROW EXECUTE/);
    assert.doesNotMatch(trigger.rows[0]!.def, /WHEN|filler/);
  });
});
