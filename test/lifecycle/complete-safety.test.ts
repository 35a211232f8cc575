/**
 * Complete drops columns after the point of no return; an object that depends on such a column
 * and that DROP COLUMN does not drop along (a view, a foreign key from another table, a generated
 * column, a policy, a column trigger) would make it fail there. Start refuses it instead: exit 2,
 * the dependent object named, nothing changed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { columns, migration, migrationRows, run, runComplete, schemaNames, tempDir, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, score text, nick text, code text NOT NULL UNIQUE, note text,
                      base integer, doubled integer GENERATED ALWAYS AS (base * 2) STORED, owner text, touched integer,
                      checked integer CHECK (checked > 0));
  CREATE INDEX users_checked_idx ON users (checked);
  CREATE POLICY users_own ON users USING (owner = current_user);
  CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
  CREATE TRIGGER users_touched BEFORE UPDATE OF touched ON users FOR EACH ROW EXECUTE FUNCTION noop();
  CREATE SCHEMA reporting;
  CREATE VIEW reporting.user_scores AS SELECT id, score FROM users;
  CREATE VIEW public.user_nicks AS SELECT id, upper(nick) AS nick FROM users WHERE nick IS NOT NULL;
  CREATE TABLE badges (id integer PRIMARY KEY, user_code text CONSTRAINT badges_user_code_fk REFERENCES users (code));
  INSERT INTO users (id, name, score, nick, code, note) SELECT g, 'User' || g, g::text, 'n' || g, 'c' || g, 'x' FROM generate_series(1, 50) g;
`;

interface Case {
  title: string;
  op: Record<string, unknown>;
  expect: RegExp;
}

const cases: Case[] = [
  {
    title: 'drop_column of a column a view in another schema uses',
    op: { drop_column: { table: 'users', column: 'score' } },
    expect: /operations\[0\] \(drop_column\), field "column": column "score" of table "users" is used by view reporting\.user_scores; complete could not drop it/,
  },
  {
    title: "drop_column of a column used in a view's expression and WHERE",
    op: { drop_column: { table: 'users', column: 'nick' } },
    expect: /column "nick" of table "users" is used by view public\.user_nicks/,
  },
  {
    title: 'drop_column of a column a foreign key of another table references',
    op: { drop_column: { table: 'users', column: 'code', down: `'c' || id` } },
    expect: /column "code" of table "users" is used by foreign key badges_user_code_fk on public\.badges/,
  },
  {
    title: 'alter_column type change of a column a view uses',
    op: { alter_column: { table: 'users', column: 'score', type: 'integer', up: 'CAST(score AS integer)', down: 'CAST(score AS text)' } },
    expect: /operations\[0\] \(alter_column\), field "column": column "score" of table "users" is used by view reporting\.user_scores/,
  },
  {
    title: 'alter_column nullability change of a column a view uses',
    op: { alter_column: { table: 'users', column: 'nick', nullable: false, up: `coalesce(nick, '?')` } },
    expect: /column "nick" of table "users" is used by view public\.user_nicks/,
  },
  // Objects of the table itself that DROP COLUMN does not drop along.
  {
    title: 'drop_column of a column a generated column is computed from',
    op: { drop_column: { table: 'users', column: 'base' } },
    expect: /column "base" of table "users" is used by default value for column doubled of table users/,
  },
  {
    title: 'drop_column of a column a row security policy uses',
    op: { drop_column: { table: 'users', column: 'owner' } },
    expect: /column "owner" of table "users" is used by policy users_own on table users/,
  },
  {
    title: 'drop_column of a column an UPDATE OF trigger names',
    op: { drop_column: { table: 'users', column: 'touched' } },
    expect: /column "touched" of table "users" is used by trigger users_touched on table users/,
  },
  {
    title: 'alter_column type change of a column a policy uses',
    op: { alter_column: { table: 'users', column: 'owner', type: 'varchar(40)', up: 'owner', down: 'owner' } },
    expect: /column "owner" of table "users" is used by policy users_own on table users/,
  },
];

describe('complete safety: columns other objects depend on', () => {
  test('drop_column through the CLI: exit 2, the view named, nothing changed', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await catalogSnapshot(env.old);
      const reporting = await catalogSnapshot(env.old, 'reporting');
      const dir = await tempDir();
      try {
        const file = await dir.write('drop_score.yaml', 'operations:\n  - drop_column: { table: users, column: score }\n');
        const r = await runCli(['start', file], { TANDEM_DATABASE_URL: env.db.url });
        assert.equal(r.code, 2, r.stderr);
        assert.ok(r.stderr.includes(file), r.stderr);
        assert.match(r.stderr, /view reporting\.user_scores/);
        assert.match(r.stderr, /hint: drop or change those objects first/);
      } finally {
        await dir.remove();
      }
      assert.deepEqual(await catalogSnapshot(env.old), before);
      assert.deepEqual(await catalogSnapshot(env.old, 'reporting'), reporting);
      assert.deepEqual(await migrationRows(env.old), []);
    });
  });

  test('each case is refused in-process with exit 2 and nothing changed', async () => {
    await withDatabase(SETUP, async (env) => {
      const before = await catalogSnapshot(env.old);
      for (const c of cases) {
        await assert.rejects(run(env, migration({ name: 'unsafe', operations: [c.op] })), (err: Error & { exitCode?: number }) => {
          assert.equal(err.exitCode, 2, `${c.title}: ${err.message}`);
          assert.match(err.message, c.expect, c.title);
          return true;
        });
      }
      assert.deepEqual(await catalogSnapshot(env.old), before);
      assert.deepEqual(await schemaNames(env.old), []);
      // The views still work.
      assert.equal((await env.old.query(`SELECT count(*)::int AS n FROM reporting.user_scores`)).rows[0].n, 50);
    });
  });

  test('columns of the same table that no outside object uses are still free to change', async () => {
    await withDatabase(SETUP, async (env) => {
      await run(
        env,
        migration({
          name: 'safe',
          operations: [
            { drop_column: { table: 'users', column: 'note', down: `'x'` } },
            // Its check constraint and index go with it.
            { drop_column: { table: 'users', column: 'checked' } },
            // A rename is safe: views follow the column.
            { rename_column: { table: 'users', from: 'score', to: 'points' } },
          ],
        }),
      );
      await runComplete(env);
      assert.deepEqual(
        (await columns(env.old, 'public', 'users')).map((c) => c.name),
        ['id', 'name', 'points', 'nick', 'code', 'base', 'doubled', 'owner', 'touched'],
      );
      assert.deepEqual((await env.old.query(`SELECT score FROM reporting.user_scores WHERE id = 7`)).rows, [{ score: '7' }]);
    });
  });
});
