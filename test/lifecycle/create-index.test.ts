import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExecutionError } from '../../src/errors.js';
import { type Env, migration, migrationRows, newVersion, ROWS, run, runComplete, runRollback, schemaNames, snapshot, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, email text, score integer, code text);
  INSERT INTO users SELECT g, 'User' || g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'u' || g || '@x.io' END, g % 17, g::text
    FROM generate_series(1, ${ROWS}) g;
`;

const m = () =>
  migration({
    name: 'users_indexes',
    operations: [
      { create_index: { name: 'users_name_score_idx', table: 'users', columns: [{ column: 'name' }, { column: 'score', sort: 'DESC', nulls: 'LAST' }] } },
      { create_index: { name: 'users_email_key', table: 'users', unique: true, columns: [{ column: 'email' }], predicate: 'email IS NOT NULL' } },
      { create_index: { name: 'users_code_hash', table: 'users', method: 'hash', columns: [{ column: 'code' }] } },
    ],
  });
const vs = 'public_users_indexes';

interface IndexRow {
  name: string;
  valid: boolean;
  ready: boolean;
  unique: boolean;
  def: string;
}

async function indexes(env: Env, like = 'users_%'): Promise<IndexRow[]> {
  const r = await env.old.query<IndexRow>(
    `SELECT c.relname::text AS name, i.indisvalid AS valid, i.indisready AS ready, i.indisunique AS unique, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname LIKE $1 AND NOT i.indisprimary ORDER BY 1`,
    [like],
  );
  return r.rows;
}

const EXPECTED: IndexRow[] = [
  { name: 'users_code_hash', valid: true, ready: true, unique: false, def: 'CREATE INDEX users_code_hash ON public.users USING hash (code)' },
  {
    name: 'users_email_key',
    valid: true,
    ready: true,
    unique: true,
    def: 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email) WHERE (email IS NOT NULL)',
  },
  {
    name: 'users_name_score_idx',
    valid: true,
    ready: true,
    unique: false,
    def: 'CREATE INDEX users_name_score_idx ON public.users USING btree (name, score DESC NULLS LAST)',
  },
];

/** The plan the planner chooses for `sql` with sequential scans ruled out. */
async function explain(client: Env['old'], sql: string): Promise<string> {
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL enable_seqscan = off');
    const r = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`);
    return r.rows.map((x) => x['QUERY PLAN']).join('\n');
  } finally {
    await client.query('ROLLBACK');
  }
}

async function indexCount(env: Env, name: string): Promise<number> {
  return (await env.old.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = $1`, [name])).rows[0].n;
}

describe('create_index', () => {
  test('start builds the indexes concurrently, as asked; both versions use them; complete keeps them', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      assert.deepEqual(await indexes(env), EXPECTED);
      assert.deepEqual(await schemaNames(env.old), [vs]);

      // Built CONCURRENTLY, outside a transaction: the audit log has the statements as run.
      const audited = await env.old.query<{ statements: string }>(
        `SELECT statements FROM tandem.audit_log WHERE phase = 'start' AND outcome = 'ok' AND statements LIKE '%INDEX%' ORDER BY id`,
      );
      assert.equal(audited.rows.length, 3);
      for (const r of audited.rows) assert.match(r.statements, /^CREATE (UNIQUE )?INDEX CONCURRENTLY /);

      // Usable by the planner, through the base table (old version) and through the view (new version).
      const nv = await newVersion(env.db, vs);
      assert.match(await explain(env.old, `SELECT id FROM users WHERE email = 'u5@x.io'`), /users_email_key/);
      assert.match(await explain(nv, `SELECT id FROM users WHERE email = 'u5@x.io'`), /users_email_key/);
      assert.match(await explain(nv, `SELECT id FROM users WHERE name = 'User5' ORDER BY score DESC NULLS LAST`), /users_name_score_idx/);
      assert.match(await explain(env.old, `SELECT id FROM users WHERE code = '42'`), /users_code_hash/);

      // The unique index binds both versions; the predicate leaves NULLs free; ON CONFLICT can infer it.
      await assert.rejects(env.old.query(`INSERT INTO users (id, name, email) VALUES (1001, 'A', 'u1@x.io')`), {
        code: '23505',
        constraint: 'users_email_key',
      });
      await assert.rejects(nv.query(`INSERT INTO users (id, name, email) VALUES (1002, 'B', 'u2@x.io')`), { code: '23505' });
      await nv.query(`INSERT INTO users (id, name, email) VALUES (1003, 'C', NULL), (1004, 'D', NULL)`);
      const up = await nv.query(
        `INSERT INTO users (id, name, email) VALUES (1005, 'E', 'u3@x.io')
           ON CONFLICT (email) WHERE email IS NOT NULL DO UPDATE SET name = 'Three' RETURNING id, name`,
      );
      assert.deepEqual(up.rows, [{ id: 3, name: 'Three' }]);
      assert.equal((await env.old.query(`SELECT name FROM users WHERE id = 3`)).rows[0].name, 'Three');

      await runComplete(env);
      assert.deepEqual(await indexes(env), EXPECTED);
      assert.deepEqual(await schemaNames(env.old), [vs]);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'users_indexes', phase: 'completed' }]);
      assert.match(await explain(nv, `SELECT id FROM users WHERE email = 'u5@x.io'`), /users_email_key/);
    });
  });

  test('rollback drops the indexes: the catalog is as before start', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      assert.equal((await indexes(env)).length, 3);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await indexes(env), []);
      assert.deepEqual(await schemaNames(env.old), []);
      // The duplicate the unique index refused before is accepted again.
      await env.old.query(`INSERT INTO users (id, name, email) VALUES (1001, 'A', 'u1@x.io')`);
    });
  });

  test('a unique index that fails on duplicates: start fails (exit 1); after fixing the data start again replaces the invalid leftover', async () => {
    await withDatabase(SETUP, async (env) => {
      await env.old.query(`UPDATE users SET code = '1' WHERE id IN (2, 3)`);
      const um = () => migration({ name: 'code_unique', operations: [{ create_index: { name: 'users_code_key', table: 'users', unique: true, columns: [{ column: 'code' }] } }] });
      await assert.rejects(run(env, um()), (err: unknown) => {
        assert.ok(err instanceof ExecutionError, String(err));
        assert.equal(err.exitCode, 1);
        assert.equal(err.details.sqlstate, '23505');
        assert.match(err.message, /users_code_key/);
        return true;
      });
      // The failed concurrent build left an invalid index behind.
      assert.deepEqual(
        (await indexes(env, 'users_code_key')).map((i) => [i.name, i.valid]),
        [['users_code_key', false]],
      );
      assert.deepEqual(await migrationRows(env.old), [{ name: 'code_unique', phase: 'starting' }]);

      await env.old.query(`UPDATE users SET code = id::text WHERE id IN (2, 3)`);
      const again = await run(env, um());
      assert.equal(again.resumed, true);
      assert.deepEqual(await indexes(env, 'users_code_key'), [
        { name: 'users_code_key', valid: true, ready: true, unique: true, def: 'CREATE UNIQUE INDEX users_code_key ON public.users USING btree (code)' },
      ]);
      assert.equal(await indexCount(env, 'users_code_key'), 1);
      assert.deepEqual(await schemaNames(env.old), ['public_code_unique']);
      await runComplete(env);
      assert.equal(await indexCount(env, 'users_code_key'), 1);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'code_unique', phase: 'completed' }]);
    });
  });

  test('an invalid index left by a failed CREATE INDEX CONCURRENTLY of the same name is replaced', async () => {
    await withDatabase(SETUP, async (env) => {
      await env.old.query(`UPDATE users SET code = '1' WHERE id IN (2, 3)`);
      await assert.rejects(env.old.query(`CREATE UNIQUE INDEX CONCURRENTLY users_code_key ON users (code)`), { code: '23505' });
      assert.deepEqual(
        (await indexes(env, 'users_code_key')).map((i) => [i.name, i.valid]),
        [['users_code_key', false]],
      );
      await env.old.query(`UPDATE users SET code = id::text WHERE id IN (2, 3)`);

      await run(env, migration({ name: 'code_unique', operations: [{ create_index: { name: 'users_code_key', table: 'users', unique: true, columns: [{ column: 'code' }] } }] }));
      assert.deepEqual(await indexes(env, 'users_code_key'), [
        { name: 'users_code_key', valid: true, ready: true, unique: true, def: 'CREATE UNIQUE INDEX users_code_key ON public.users USING btree (code)' },
      ]);
      assert.equal(await indexCount(env, 'users_code_key'), 1);
      await runComplete(env);
      assert.deepEqual(
        (await indexes(env, 'users_code_key')).map((i) => [i.name, i.valid]),
        [['users_code_key', true]],
      );
    });
  });
});
