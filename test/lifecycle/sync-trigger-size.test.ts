/**
 * The sync trigger of a wide table stays small: it recomputes only the columns the migration
 * changes, whatever the number of columns (the nested version copied every column twice per
 * operation).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migration, newVersion, run, runComplete, withDatabase } from './support.js';

const COLUMNS = 50;
const names = Array.from({ length: COLUMNS }, (_, i) => `c${i + 1}`);
const SETUP = `
  CREATE TABLE wide (id integer PRIMARY KEY, ${names.map((n) => `${n} text`).join(', ')});
  INSERT INTO wide (id, ${names.join(', ')}) SELECT g, ${names.map((n) => `'${n}-' || g`).join(', ')} FROM generate_series(1, 20) g;
  UPDATE wide SET c7 = (id * 10)::text;
`;

test('a 50-column table: the trigger body is a few dozen lines and names only the changed columns', async () => {
  await withDatabase(SETUP, async (env) => {
    await run(
      env,
      migration({
        name: 'm1',
        operations: [
          { rename_column: { table: 'wide', from: 'c3', to: 'c3_renamed' } },
          { alter_column: { table: 'wide', column: 'c7', type: 'integer', up: 'CAST(c7 AS integer)', down: 'CAST(c7 AS text)' } },
          { alter_column: { table: 'wide', column: 'c7', nullable: false, up: 'coalesce(c7, 0)' } },
          { add_column: { table: 'wide', column: { name: 'extra', type: 'text', nullable: true }, up: 'upper(c10)' } },
        ],
      }),
    );
    const fn = await env.engine.query<{ src: string }>(
      `SELECT p.prosrc AS src FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'tandem' AND p.proname LIKE 'sync\\_%wide'`,
    );
    assert.equal(fn.rows.length, 1);
    const src = fn.rows[0]!.src;
    const lines = src.trim().split('\n').length;
    assert.ok(lines <= 45, `trigger body has ${lines} lines:\n${src}`);
    assert.ok(src.length <= 2_000, `trigger body has ${src.length} characters`);
    // Of the 50 columns, only those an expression reads or an operation writes appear.
    const mentioned = names.filter((n) => new RegExp(`"${n}"|\\b${n}\\b`).test(src)).sort();
    assert.deepEqual(mentioned, ['c10', 'c7']);
    assert.match(src, /"_tandem_new_c7"/);
    assert.match(src, /NEW\."extra"/);

    // And it works: each version's writes reach the other one.
    const neu = await newVersion(env.db, 'public_m1');
    await neu.query(`INSERT INTO wide (id, c7, c10, c3_renamed, extra) VALUES (100, 77, 'ten', 'three', 'x')`);
    assert.deepEqual((await env.old.query(`SELECT c7, c10, c3 FROM wide WHERE id = 100`)).rows, [{ c7: '77', c10: 'ten', c3: 'three' }]);
    await env.old.query(`INSERT INTO wide (id, c7, c10) VALUES (101, NULL, 'abc')`);
    assert.deepEqual((await neu.query(`SELECT c7, extra FROM wide WHERE id IN (1, 101) ORDER BY id`)).rows, [
      { c7: 10, extra: 'C10-1' },
      { c7: 0, extra: 'ABC' },
    ]);
    await runComplete(env);
    assert.deepEqual((await env.old.query(`SELECT c7, c3_renamed, extra FROM wide WHERE id = 101`)).rows, [{ c7: 0, c3_renamed: null, extra: 'ABC' }]);
  });
});
