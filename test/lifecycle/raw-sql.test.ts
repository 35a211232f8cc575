import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { ExecutionError } from '../../src/errors.js';
import { columns, type Env, migration, migrationRows, newVersion, ROWS, run, runComplete, runRollback, schemaNames, snapshot, tempDir, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);
  CREATE TABLE events (id serial PRIMARY KEY, what text NOT NULL);
  INSERT INTO users SELECT g, 'User' || g FROM generate_series(1, ${ROWS}) g;
`;

const createNotes = () =>
  migration({
    name: 'notes',
    operations: [
      {
        sql: {
          up: `CREATE TABLE notes (id integer PRIMARY KEY, user_id integer REFERENCES users (id), body text NOT NULL); INSERT INTO events (what) VALUES ('up')`,
          down: `DROP TABLE notes; INSERT INTO events (what) VALUES ('down')`,
        },
      },
      { sql: { up: `INSERT INTO events (what) VALUES ('on complete')`, onComplete: true } },
    ],
  });
const vs = 'public_notes';

async function events(env: Env): Promise<string[]> {
  return (await env.old.query<{ what: string }>(`SELECT what FROM events ORDER BY id`)).rows.map((r) => r.what);
}

async function views(env: Env, schema: string): Promise<string[]> {
  return (await env.old.query<{ viewname: string }>(`SELECT viewname FROM pg_views WHERE schemaname = $1 ORDER BY 1`, [schema])).rows.map((r) => r.viewname);
}

describe('sql', () => {
  test('up runs at start and its new table gets a view in the new version; onComplete runs at complete only', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, createNotes());
      assert.deepEqual(await events(env), ['up']);
      assert.deepEqual(await views(env, vs), ['events', 'notes', 'users']);
      assert.deepEqual(await columns(env.old, vs, 'notes'), [
        { name: 'id', type: 'integer', notNull: false },
        { name: 'user_id', type: 'integer', notNull: false },
        { name: 'body', type: 'text', notNull: false },
      ]);
      const nv = await newVersion(env.db, vs);
      const n = await nv.query(`INSERT INTO notes (id, user_id, body) VALUES (1, 7, 'hello') RETURNING *`);
      assert.deepEqual(n.rows, [{ id: 1, user_id: 7, body: 'hello' }]);
      await assert.rejects(nv.query(`INSERT INTO notes (id, user_id, body) VALUES (2, 99999, 'x')`), { code: '23503' });
      assert.deepEqual((await env.old.query(`SELECT body FROM notes`)).rows, [{ body: 'hello' }]);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS);

      await runComplete(env);
      assert.deepEqual(await events(env), ['up', 'on complete']);
      assert.deepEqual(await views(env, vs), ['events', 'notes', 'users']);
      assert.deepEqual((await nv.query(`SELECT body FROM notes`)).rows, [{ body: 'hello' }]);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'notes', phase: 'completed' }]);
    });
  });

  test('rollback runs down (not onComplete): the catalog is as before start', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, createNotes());
      await runRollback(env);
      // events is the log the SQL itself writes to; it is data, not schema.
      assert.deepEqual(await events(env), ['up', 'down']);
      await env.old.query(`TRUNCATE events RESTART IDENTITY`);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await schemaNames(env.old), []);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'notes', phase: 'rolled_back' }]);
    });
  });

  test('statements that cannot run in a transaction (CONCURRENTLY) run on their own, up and down', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      const mm = migration({
        name: 'name_idx',
        operations: [{ sql: { up: `CREATE INDEX CONCURRENTLY users_name_idx ON users (name)`, down: `DROP INDEX CONCURRENTLY users_name_idx` } }],
      });
      await run(env, mm);
      assert.deepEqual((await env.old.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_name_idx'::regclass`)).rows, [{ indisvalid: true }]);
      assert.deepEqual(await views(env, 'public_name_idx'), ['events', 'users']);
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
    });
  });

  test('an up that fails: exit 1, nothing of it applied, no migration left in progress, its down never runs', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      const mm = migration({
        name: 'bad_up',
        operations: [{ sql: { up: `CREATE TABLE notes (id integer PRIMARY KEY); INSERT INTO notes SELECT 1 / 0`, down: `DROP TABLE notes` } }],
      });
      await assert.rejects(run(env, mm), (err: unknown) => {
        assert.ok(err instanceof ExecutionError, String(err));
        assert.equal(err.exitCode, 1);
        assert.match(err.message, /division by zero/);
        return true;
      });
      assert.equal((await env.old.query(`SELECT to_regclass('public.notes') IS NULL AS gone`)).rows[0].gone, true);
      // Its one transaction failed before any step committed: nothing changed, no migration is left
      // in progress (only audit entries), so a rollback (CI's `start || rollback`) has nothing to
      // undo: it succeeds, saying so, and `down` never runs.
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await migrationRows(env.old), []);
      assert.deepEqual(await runRollback(env), { migration: 'bad_up', versionSchema: 'public_bad_up', alreadyDone: true });
      assert.deepEqual(await snapshot(env), before);
    });
  });

  test('sql mixed with another operation, or onComplete with down, is refused with exit 2 and nothing changes', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await catalogSnapshot(env.old);
      const dir = await tempDir();
      try {
        const file = await dir.write(
          'mixed.yaml',
          'operations:\n  - sql: { up: "CREATE TABLE t (id int)", down: "DROP TABLE t" }\n  - add_column: { table: users, column: { name: x, type: text, nullable: true } }\n',
        );
        const r = await runCli(['start', file], { TANDEM_DATABASE_URL: env.db.url });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /operations\[0\] \(sql\): a raw sql operation must be alone in its migration/);
      } finally {
        await dir.remove();
      }
      // The other operation first: refused the same way.
      await assert.rejects(
        run(env, migration({ name: 'mixed2', operations: [{ drop_column: { table: 'users', column: 'name', down: "'x'" } }, { sql: { up: 'SELECT 1' } }] })),
        (err: Error & { exitCode?: number }) => err.exitCode === 2 && /must be alone in its migration/.test(err.message),
      );
      await assert.rejects(
        run(env, migration({ name: 'oc_down', operations: [{ sql: { up: 'SELECT 1', down: 'SELECT 2', onComplete: true } }] })),
        (err: Error & { exitCode?: number }) => err.exitCode === 2 && /operations\[0\] \(sql\), field "down"/.test(err.message),
      );
      assert.deepEqual(await catalogSnapshot(env.old), before);
      assert.deepEqual(await migrationRows(env.old), []);
      assert.equal((await env.old.query(`SELECT to_regclass('public.t') IS NULL AS gone`)).rows[0].gone, true);
    });
  });
});
