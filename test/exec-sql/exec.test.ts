import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * `tandem exec <file.sql>`: plain DDL beside the version schemas. An ALTER COLUMN … TYPE on a
 * column a version view shows fails in PostgreSQL (0A000); exec runs it with those views dropped
 * and recreated in the same transaction, and refuses what it must (a migration in progress on
 * the table, statements that cannot run in a transaction) with nothing changed.
 */

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-exec-'));
});

async function file(name: string, text: string): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, text);
  return f;
}

async function columnType(db: TestDatabase, schema: string, table: string, column: string): Promise<string | undefined> {
  const r = await db.query<{ t: string }>(
    `SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped`,
    [`"${schema}"."${table}"`, column],
  );
  return r.rows[0]?.t;
}

/** Two tables through one completed migration: version schema public_0001_init shows both. */
async function setUp(db: TestDatabase): Promise<string[]> {
  const url = ['--database-url', db.url];
  const init = await file(
    `init-${db.name}.yaml`,
    `name: 0001_init
operations:
  - create_table: { name: users, columns: [ {name: id, type: int, pk: true}, {name: score, type: int, nullable: true}, {name: note, type: varchar(10), nullable: true} ] }
  - create_table: { name: events, columns: [ {name: id, type: int, pk: true}, {name: kind, type: text, nullable: true} ] }
`,
  );
  const r = await runCli([...url, 'start', '--complete', init]);
  assert.equal(r.code, 0, r.stderr);
  return url;
}

describe('tandem exec', () => {
  let db: TestDatabase;
  let url: string[];
  before(async () => {
    db = await createTestDatabase();
    url = await setUp(db);
  });
  after(() => db.drop());

  it('PostgreSQL alone refuses the type change; exec runs it and rebuilds the version view, which keeps working', async () => {
    await assert.rejects(db.query('ALTER TABLE users ALTER COLUMN score TYPE bigint'), (err: { code?: string; message: string }) => {
      assert.equal(err.code, '0A000');
      assert.match(err.message, /used by a view or rule/);
      return true;
    });
    const role = `tandem_exec_reader_${db.name.slice(-6)}`;
    await db.query(`CREATE ROLE ${role}`);
    try {
      await db.query(`GRANT SELECT ON public_0001_init.users TO ${role}`);
      const sql = await file('widen.sql', 'ALTER TABLE users ALTER COLUMN score TYPE bigint;\nALTER TABLE users ALTER COLUMN note TYPE text;\n');
      const r = await runCli([...url, '--json', 'exec', sql]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { statements: number; rebuiltViews: string[]; typeChangedTables: string[] };
      assert.equal(out.statements, 2);
      assert.deepEqual(out.typeChangedTables, ['users']);
      assert.deepEqual(out.rebuiltViews, ['public_0001_init.users']);
      assert.equal(await columnType(db, 'public', 'users', 'score'), 'bigint');
      assert.equal(await columnType(db, 'public_0001_init', 'users', 'score'), 'bigint');
      assert.equal(await columnType(db, 'public_0001_init', 'users', 'note'), 'text');
      // The view is the same simple view: writes with RETURNING go through it, and its grant is back.
      const w = await db.query<{ score: string }>(`INSERT INTO public_0001_init.users (id, score, note) VALUES (1, 5000000000, 'a longer note') RETURNING score`);
      assert.equal(w.rows[0]!.score, '5000000000');
      const acl = await db.query<{ ok: boolean }>(`SELECT has_table_privilege($1, 'public_0001_init.users', 'SELECT') AS ok`, [role]);
      assert.equal(acl.rows[0]!.ok, true);
      // The other table's view was not touched (its oid is the one created by start).
      const audit = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM tandem.audit_log WHERE phase = 'exec' AND outcome = 'ok'`);
      assert.equal(audit.rows[0]!.n, '1');
    } finally {
      await db.query(`REVOKE ALL ON public_0001_init.users FROM ${role}`).catch(() => undefined);
      await db.query(`DROP ROLE ${role}`).catch(() => undefined);
    }
  });

  it('SQL that fails: exit 1, rolled back — the views and types are as before', async () => {
    const before = await db.query(`SELECT c.oid FROM pg_class c WHERE c.oid = 'public_0001_init.events'::regclass`);
    const sql = await file('bad.sql', 'ALTER TABLE events ALTER COLUMN kind TYPE integer USING kind::integer;\nSELECT 1/0;\n');
    await db.query(`INSERT INTO events VALUES (1, '7')`);
    const r = await runCli([...url, 'exec', sql]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /division by zero/);
    assert.equal(await columnType(db, 'public', 'events', 'kind'), 'text');
    const afterOid = await db.query(`SELECT c.oid FROM pg_class c WHERE c.oid = 'public_0001_init.events'::regclass`);
    assert.deepEqual(afterOid.rows, before.rows, 'the version view is the one it was');
  });

  it('refuses statements that cannot run in one transaction: exit 2, nothing run', async () => {
    const sql = await file('concurrently.sql', 'ALTER TABLE events ADD COLUMN x int;\nCREATE INDEX CONCURRENTLY events_x ON events (x);\n');
    const r = await runCli([...url, '--json', 'exec', sql]);
    assert.equal(r.code, 2);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(out.error.code, 'unsupported');
    assert.match(out.error.message, /concurrently\.sql:2:1/);
    assert.equal(await columnType(db, 'public', 'events', 'x'), undefined);
  });

  it('a migration in progress: refused on its tables (exit 2, nothing changed), allowed on others', async () => {
    const m = await file('0002_users_plan.yaml', `operations:\n  - add_column: { table: users, column: { name: plan, type: text, default: "'free'" } }\n`);
    const s = await runCli([...url, 'start', m]);
    assert.equal(s.code, 0, s.stderr);
    try {
      const mine = await file('users.sql', 'ALTER TABLE users ALTER COLUMN note TYPE varchar(200);\n');
      const r = await runCli([...url, '--json', 'exec', mine]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'other-migration-in-progress');
      assert.equal(await columnType(db, 'public', 'users', 'note'), 'text');

      // Another table: both version schemas' views of it are rebuilt.
      const other = await file('events.sql', 'ALTER TABLE events ALTER COLUMN kind TYPE varchar(50);\n');
      const ok = await runCli([...url, '--json', 'exec', other]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual((JSON.parse(ok.stdout) as { rebuiltViews: string[] }).rebuiltViews, ['public_0001_init.events', 'public_0002_users_plan.events']);
      assert.equal(await columnType(db, 'public_0002_users_plan', 'events', 'kind'), 'character varying(50)');
    } finally {
      assert.equal((await runCli([...url, 'complete'])).code, 0);
    }
  });

  it('waits at most --lock-timeout per attempt behind a lock, then gives up cleanly (exit 1, lock-timeout)', async () => {
    const blocker = await db.connect('blocker');
    await blocker.query('BEGIN');
    await blocker.query('SELECT * FROM events');
    try {
      const sql = await file('blocked.sql', 'ALTER TABLE events ALTER COLUMN kind TYPE text;\n');
      const r = await runCli([...url, '--json', '--lock-timeout', '20', '--lock-retry-for', '300', 'exec', sql]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'lock-timeout');
      assert.equal(await columnType(db, 'public', 'events', 'kind'), 'character varying(50)');
    } finally {
      await blocker.query('ROLLBACK');
    }
  });

  it('the same type change in a raw sql migration fails with a hint that points to tandem exec', async () => {
    const m = await file('0003_raw.yaml', `operations:\n  - sql: { up: "ALTER TABLE events ALTER COLUMN kind TYPE text" }\n`);
    const r = await runCli([...url, 'start', m]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot alter type of a column used by a view or rule/);
    assert.match(r.stderr, /hint: .*tandem exec <file\.sql>/);
  });
});
