import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migration, run, runComplete, runRollback, snapshot, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE events (payload text, n text);
  INSERT INTO events SELECT 'p' || g, g::text FROM generate_series(1, 3000) g;
  ANALYZE events;`;

const m = () =>
  migration({
    name: 'no_key',
    operations: [{ alter_column: { table: 'events', column: 'n', type: 'integer', up: 'CAST(n AS integer)', down: 'CAST(n AS text)' } }],
  });

test('a table with no key is backfilled by ctid ranges, correctly under concurrent updates and inserts', async () => {
  await withDatabase(SETUP, async (env) => {
    const before = await snapshot(env);
    // Old-version traffic that moves rows (non-HOT updates) and inserts new ones during the backfill.
    let stop = false;
    let writes = 0;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        await env.old.query(`UPDATE events SET payload = payload || 'x' WHERE n = $1`, [String(((i * 37) % 3000) + 1)]);
        await env.old.query(`INSERT INTO events VALUES ($1, $2)`, [`new${i}`, String(100000 + i)]);
        writes += 2;
      }
    })();
    await run(env, m(), { batchSize: 50 });
    stop = true;
    await traffic;
    assert.ok(writes > 0);
    const r = await env.engine.query<{ total: number; unsynced: number; wrong: number }>(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE _tandem_synced IS NOT TRUE)::int AS unsynced,
              count(*) FILTER (WHERE _tandem_new_n IS DISTINCT FROM n::integer)::int AS wrong FROM events`,
    );
    assert.equal(r.rows[0]!.unsynced, 0);
    assert.equal(r.rows[0]!.wrong, 0);
    assert.ok(r.rows[0]!.total >= 3000);

    await runRollback(env);
    assert.deepEqual(await snapshot(env), before);
    await run(env, m(), { batchSize: 50 });
    await runComplete(env);
    const after = await env.engine.query<{ type: string; bad: number }>(
      `SELECT format_type(atttypid, atttypmod) AS type, (SELECT count(*)::int FROM events WHERE n IS NULL) AS bad
         FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'n'`,
    );
    assert.deepEqual(after.rows[0], { type: 'integer', bad: 0 });
  });
});
