import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { type Env, migration, migrationRows, newVersion, ROWS, run, runComplete, runRollback, schemaNames, snapshot, tempDir, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL CONSTRAINT users_email_key UNIQUE);
  CREATE INDEX users_name_idx ON users (name);
  INSERT INTO users SELECT g, 'User' || g, 'u' || g || '@x.io' FROM generate_series(1, ${ROWS}) g;
`;

const m = () => migration({ name: 'drop_name_idx', operations: [{ drop_index: { name: 'users_name_idx' } }] });
const vs = 'public_drop_name_idx';

async function indexNames(env: Env): Promise<string[]> {
  const r = await env.old.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'users' ORDER BY 1`);
  return r.rows.map((x) => x.indexname);
}

async function usesIndex(client: Env['old']): Promise<boolean> {
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL enable_seqscan = off');
    const r = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) SELECT id FROM users WHERE name = 'User5'`);
    return r.rows.some((x) => x['QUERY PLAN'].includes('users_name_idx'));
  } finally {
    await client.query('ROLLBACK');
  }
}

describe('drop_index', () => {
  test('start keeps the index for the old version; complete drops it concurrently', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(env, m());
      assert.deepEqual(await indexNames(env), ['users_email_key', 'users_name_idx', 'users_pkey']);
      assert.equal(await usesIndex(env.old), true);
      assert.deepEqual(await schemaNames(env.old), [vs]);
      const nv = await newVersion(env.db, vs);
      await nv.query(`INSERT INTO users (id, name, email) VALUES (1001, 'New', 'n@x.io')`);
      await env.old.query(`INSERT INTO users (id, name, email) VALUES (1002, 'Old', 'o@x.io')`);
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM users WHERE name IN ('New', 'Old')`)).rows[0].n, 2);

      await runComplete(env);
      assert.deepEqual(await indexNames(env), ['users_email_key', 'users_pkey']);
      const audited = await env.old.query<{ statements: string }>(`SELECT statements FROM tandem.audit_log WHERE phase = 'complete' AND statements LIKE 'DROP INDEX%'`);
      assert.deepEqual(
        audited.rows.map((r) => r.statements),
        ['DROP INDEX CONCURRENTLY IF EXISTS "public"."users_name_idx"'],
      );
      assert.equal(await usesIndex(nv), false);
      assert.equal((await nv.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, ROWS + 2);
      assert.deepEqual(await migrationRows(env.old), [{ name: 'drop_name_idx', phase: 'completed' }]);
    });
  });

  test('rollback leaves the index in place: the catalog is as before start', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await snapshot(env);
      await run(env, m());
      await runRollback(env);
      assert.deepEqual(await snapshot(env), before);
      assert.deepEqual(await indexNames(env), ['users_email_key', 'users_name_idx', 'users_pkey']);
      assert.equal(await usesIndex(env.old), true);
      assert.deepEqual(await schemaNames(env.old), []);
    });
  });

  test('an index that backs a constraint, or that does not exist, is refused with exit 2 and nothing changes', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await catalogSnapshot(env.old);
      const dir = await tempDir();
      try {
        const file = await dir.write('drop_email_key.yaml', 'operations:\n  - drop_index: { name: users_email_key }\n');
        const r = await runCli(['start', file], { TANDEM_DATABASE_URL: env.db.url });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /operations\[0\] \(drop_index\), field "name": index "users_email_key" belongs to a constraint/);
      } finally {
        await dir.remove();
      }
      for (const [name, expect] of [
        ['users_pkey', /index "users_pkey" belongs to a constraint/],
        ['nope_idx', /index "nope_idx" does not exist/],
      ] as const) {
        await assert.rejects(run(env, migration({ name: `drop_${name}`, operations: [{ drop_index: { name } }] })), (err: Error & { exitCode?: number }) => {
          assert.equal(err.exitCode, 2);
          assert.match(err.message, expect);
          return true;
        });
      }
      assert.deepEqual(await catalogSnapshot(env.old), before);
      assert.deepEqual(await migrationRows(env.old), []);
    });
  });
});
