import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { tempDir } from './support.js';

const MIGRATION = 'operations:\n  - add_column:\n      table: users\n      up: upper(name)\n      column: { name: shout, type: text }\n';

describe('CLI output contracts', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  test('`tandem schema` prints the JSON Schema of migration files', async () => {
    const r = await runCli(['schema']);
    assert.equal(r.code, 0, r.stderr);
    const schema = JSON.parse(r.stdout) as { $schema: string; type: string; properties: Record<string, unknown>; required?: string[] };
    assert.match(schema.$schema, /json-schema\.org\/draft\/2020-12/);
    assert.equal(schema.type, 'object');
    assert.deepEqual(Object.keys(schema.properties).sort(), ['name', 'operations', 'version_schema']);
    assert.deepEqual(schema.required, ['operations']);
    for (const op of ['create_table', 'add_column', 'drop_column', 'rename_column', 'alter_column']) {
      assert.ok(r.stdout.includes(`"${op}"`), `the schema describes ${op}`);
    }
  });

  test('`tandem validate` works without a database', async () => {
    const file = await dir.write('0001_shout.yaml', MIGRATION);
    const r = await runCli(['validate', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid \(1 operations\)/);
    const j = await runCli(['validate', file, '--json']);
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual(JSON.parse(j.stdout), { file, name: '0001_shout', valid: true, checkedAgainstDatabase: false, warnings: [] });
    // Without a database it still checks the file itself.
    const bad = await dir.write('bad.yaml', 'operations:\n  - add_column: { table: users, column: { name: x } }\n');
    const b = await runCli(['validate', bad]);
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, /operations\[0\] \(add_column\), field "column\.type"/);
    // Commands that need a database say so (exit 2).
    const s = await runCli(['status']);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /no database configured/);
  });

  describe('--json with a database', () => {
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase();
      await db.query(`CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);
        INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 95) g;`);
    });
    after(() => db.drop());

    test('warnings (an up/down on a change that needs none) are in the --json document of validate and start', async () => {
      const own = await createTestDatabase();
      await own.query(`CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL)`);
      const env = { TANDEM_DATABASE_URL: own.url };
      const file = await dir.write('0003_comment.yaml', 'operations:\n  - alter_column: { table: users, column: name, comment: "the name", up: name, down: name }\n');
      const v = await runCli(['validate', file, '--json'], env);
      assert.equal(v.code, 0, v.stderr);
      const vw = (JSON.parse(v.stdout) as { warnings: string[] }).warnings;
      assert.equal(vw.length, 1, JSON.stringify(vw));
      assert.match(vw[0]!, /operations\[0\] \(alter_column\)/);
      const st = await runCli(['start', file, '--json', '--complete'], env);
      assert.equal(st.code, 0, st.stderr);
      assert.deepEqual((JSON.parse(st.stdout) as { warnings: string[] }).warnings, vw);
      await own.drop();
    });

    test('status, start and complete each print one JSON document on stdout', async () => {
      const env = { TANDEM_DATABASE_URL: db.url };
      const s0 = await runCli(['status', '--json'], env);
      assert.equal(s0.code, 0, s0.stderr);
      assert.deepEqual(JSON.parse(s0.stdout), { schema: 'public', initialized: false, inProgress: null, latestVersionSchema: null, history: [] });

      const file = await dir.write('0002_shout.yaml', MIGRATION);
      const st = await runCli(['start', file, '--json', '--batch-size', '10'], env);
      assert.equal(st.code, 0, st.stderr);
      assert.deepEqual(JSON.parse(st.stdout), {
        migration: '0002_shout',
        versionSchema: 'public_0002_shout',
        resumed: false,
        alreadyActive: false,
        completed: false,
        warnings: [],
      });
      // Progress went to stderr.
      assert.match(st.stderr, /backfill users/);

      const s1 = await runCli(['status', '--json'], env);
      assert.equal(s1.code, 0, s1.stderr);
      const doc = JSON.parse(s1.stdout) as {
        initialized: boolean;
        inProgress: {
          name: string;
          phase: string;
          versionSchema: string;
          previousVersionSchema: string | null;
          backfill: { table: string; rowsDone: number; batches: number; done: boolean }[];
          lastError: unknown;
        };
        history: { name: string; phase: string }[];
      };
      assert.equal(doc.initialized, true);
      assert.equal(doc.inProgress.name, '0002_shout');
      assert.equal(doc.inProgress.phase, 'active');
      assert.equal(doc.inProgress.versionSchema, 'public_0002_shout');
      assert.equal(doc.inProgress.previousVersionSchema, null);
      assert.equal(doc.inProgress.lastError, null);
      assert.deepEqual(doc.inProgress.backfill, [{ table: 'users', rowsDone: 95, batches: 10, done: true }]);
      assert.deepEqual(
        doc.history.map((h) => [h.name, h.phase]),
        [['0002_shout', 'active']],
      );

      const c = await runCli(['complete', '--json'], env);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(JSON.parse(c.stdout), { migration: '0002_shout', versionSchema: 'public_0002_shout', alreadyDone: false });
      const s2 = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { inProgress: unknown; latestVersionSchema: string };
      assert.equal(s2.inProgress, null);
      assert.equal(s2.latestVersionSchema, 'public_0002_shout');
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM users WHERE shout = upper(name)`)).rows[0].n, 95);
    });
  });
});
