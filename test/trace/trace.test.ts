import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runTrace, type TraceRun } from '../../src/trace/run.js';
import type { StatementTrace } from '../../src/trace/trace.js';
import { runCli } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/db.js';

const SCHEMA = `
  CREATE TABLE t (id int PRIMARY KEY, c int NOT NULL, v varchar(100));
  CREATE INDEX t_v_idx ON t (v);
  INSERT INTO t SELECT g, g, 'v' || g FROM generate_series(1, 1000) g;
`;

/** Everything a trace could change: relations, their storage, columns and types. */
async function catalogState(db: TestDatabase): Promise<string[]> {
  const r = await db.query<{ line: string }>(
    `SELECT c.relname || ' ' || c.relkind::text || ' ' || c.relfilenode::text || ' ' ||
            coalesce((SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull, ',' ORDER BY a.attnum)
                        FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS line
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' ORDER BY c.relname`,
  );
  return r.rows.map((row) => row.line);
}

function lockModes(t: StatementTrace, relation: string): string[] {
  return t.locks
    .filter((l) => l.relation === relation)
    .map((l) => l.modeName)
    .sort();
}

describe('trace on a given database (--database-url): one transaction, rolled back', () => {
  let db: TestDatabase;
  let dir: string;
  let stateBefore: string[];

  before(async () => {
    db = await createTestDatabase();
    await db.query(SCHEMA);
    stateBefore = await catalogState(db);
    dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-trace-'));
  });
  after(async () => {
    await db.drop();
  });

  async function trace(sql: string, extra: { lockTimeoutMs?: number } = {}): Promise<TraceRun> {
    const file = path.join(dir, `f${Math.random().toString(36).slice(2)}.sql`);
    await writeFile(file, sql);
    return runTrace({ file, databaseUrl: db.url, ...extra });
  }

  it('int -> bigint rewrites the table (and its indexes) under ACCESS EXCLUSIVE', async () => {
    const run = await trace('ALTER TABLE t ALTER COLUMN c TYPE bigint;\n');
    const [s] = run.statements;
    assert.equal(s!.status, 'traced');
    assert.equal(s!.rewrite, true);
    assert.ok(s!.rewrites.some((r) => r.relation === 't' && r.kind === 'table' && r.relfilenodeAfter !== r.relfilenodeBefore));
    assert.ok(s!.rewrites.some((r) => r.relation === 't_pkey' && r.kind === 'index'));
    assert.ok(lockModes(s!, 't').includes('ACCESS EXCLUSIVE'));
    const ae = s!.locks.find((l) => l.relation === 't' && l.mode === 'AccessExclusiveLock')!;
    assert.ok(ae.blocks.includes('SELECT') && ae.blocks.includes('INSERT/UPDATE/DELETE'));
    assert.equal(ae.acquiredBy, 0);
    assert.ok(ae.heldMs > 0 && ae.heldMs <= run.totalMs + 0.001);
    assert.equal(run.database.kind, 'given');
    assert.equal(run.rolledBack, true);
  });

  it('widening varchar(100) -> varchar(200) is no rewrite, but still ACCESS EXCLUSIVE', async () => {
    const run = await trace('ALTER TABLE t ALTER COLUMN v TYPE varchar(200);');
    const [s] = run.statements;
    assert.equal(s!.rewrite, false);
    assert.deepEqual(s!.rewrites, []);
    assert.ok(lockModes(s!, 't').includes('ACCESS EXCLUSIVE'));
    assert.equal(s!.locksComplete, true, 'the first statement: nothing was held before it');
  });

  it('CREATE INDEX takes SHARE (blocks writes, not reads); CONCURRENTLY and transaction control are not run', async () => {
    const run = await trace('BEGIN;\nCREATE INDEX t_c_idx ON t (c);\nCREATE INDEX CONCURRENTLY t_c2_idx ON t (c);\nCOMMIT;\n');
    const [begin, create, concurrently, commit] = run.statements;
    assert.equal(begin!.status, 'skipped');
    assert.equal(commit!.status, 'skipped');
    assert.deepEqual(lockModes(create!, 't'), ['SHARE']);
    const share = create!.locks.find((l) => l.relation === 't')!;
    assert.ok(share.blocks.includes('INSERT/UPDATE/DELETE'));
    assert.ok(!share.blocks.includes('SELECT'));
    assert.deepEqual(create!.created, ['t_c_idx']);
    assert.equal(create!.locks.find((l) => l.relation === 't_c_idx')?.newRelation, true);
    assert.equal(concurrently!.status, 'not-traced');
    assert.match(concurrently!.reason!, /^not traced: cannot run inside a transaction/);
    assert.match(concurrently!.reason!, /SHARE UPDATE EXCLUSIVE/);
  });

  it('hold times: a lock is held from the statement that took it to the end of the transaction', async () => {
    const run = await trace('SELECT count(*) FROM t;\nSELECT pg_sleep(0.05);\nALTER TABLE t ADD COLUMN n int;\n');
    const share = run.locks.find((l) => l.relation === 't' && l.mode === 'AccessShareLock')!;
    const ae = run.locks.find((l) => l.relation === 't' && l.mode === 'AccessExclusiveLock')!;
    assert.equal(share.acquiredBy, 0);
    assert.equal(ae.acquiredBy, 2);
    assert.ok(share.heldMs >= 50, `held ${share.heldMs} ms across the sleep`);
    assert.ok(ae.heldMs < share.heldMs);
    assert.equal(run.locksPerStatement, 'first-taken');
  });

  it('the database is unchanged afterwards, even after a COMMIT in the file or a failing statement', async () => {
    await trace('BEGIN;\nALTER TABLE t ALTER COLUMN c TYPE bigint;\nALTER TABLE t ADD COLUMN z text;\nCREATE TABLE u (id int);\nCOMMIT;\n');
    const failed = await trace('DROP INDEX t_v_idx;\nALTER TABLE nope ADD COLUMN x int;\nDROP TABLE t;\n');
    assert.deepEqual(
      failed.statements.map((s) => s.status),
      ['traced', 'failed', 'not-run'],
    );
    assert.equal(failed.statements[1]!.sqlstate, '42P01');
    assert.deepEqual(await catalogState(db), stateBefore);
    assert.equal((await db.query('SELECT count(*)::int AS n FROM t')).rows[0]!['n'], 1000);
  });

  it('never queues behind the application: a held lock makes the statement fail after lock_timeout', async () => {
    const app = await db.connect('app');
    await app.query('BEGIN');
    await app.query('SELECT * FROM t LIMIT 1'); // ACCESS SHARE until the end of this transaction
    try {
      const started = Date.now();
      const run = await trace('ALTER TABLE t ADD COLUMN blocked int;', { lockTimeoutMs: 100 });
      assert.ok(Date.now() - started < 5000);
      const [s] = run.statements;
      assert.equal(s!.status, 'failed');
      assert.equal(s!.sqlstate, '55P03');
      assert.match(s!.reason!, /another session holds a conflicting lock/);
    } finally {
      await app.query('ROLLBACK');
    }
  });
});

describe('trace on a scratch database (--setup): exact locks per statement', () => {
  it('runs the setup, traces, and drops the scratch database', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-trace-'));
    const setup = path.join(dir, 'schema.sql');
    const file = path.join(dir, 'migration.sql');
    await writeFile(setup, SCHEMA);
    await writeFile(file, 'ALTER TABLE t ALTER COLUMN c TYPE bigint;\nALTER TABLE t ALTER COLUMN v TYPE varchar(200);\nCREATE INDEX t_c_idx ON t (c);\n');
    const run = await runTrace({ file, setupFile: setup, databaseUrl: adminUrl() });
    assert.equal(run.database.kind, 'scratch');
    assert.equal(run.locksPerStatement, 'exact');
    assert.deepEqual(run.setup, { file: setup, statements: 3 });
    const [rewrite, widen, index] = run.statements;
    assert.equal(rewrite!.rewrite, true);
    assert.equal(widen!.rewrite, false);
    // The transaction already held ACCESS EXCLUSIVE since #1; the statement alone needs it too.
    const ae = widen!.locks.find((l) => l.relation === 't' && l.mode === 'AccessExclusiveLock');
    assert.equal(ae?.acquiredBy, 0);
    assert.ok(lockModes(index!, 't').includes('SHARE'));
    const name = new URL(run.database.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      assert.equal(left.rowCount, 0, `scratch database ${name} dropped`);
    } finally {
      await admin.end();
    }
  });
});

describe('trace: the command', () => {
  it('parse error: exit 2 with file:line:col, nothing run', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-trace-'));
    const file = path.join(dir, 'bad.sql');
    await writeFile(file, 'SELECT 1;\nALTER TABLE t ALTER COLUMN c TYPE;\n');
    const r = await runCli(['trace', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.sql:2:34: syntax error at or near ";"/);
  });

  it('default: an embedded PostgreSQL; --json is one document; a failing statement exits 1', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-trace-'));
    const file = path.join(dir, 'm.sql');
    await writeFile(file, 'CREATE TABLE a (id int);\nALTER TABLE a ALTER COLUMN id TYPE bigint;\nALTER TABLE missing ADD COLUMN x int;\n');
    const r = await runCli(['--json', 'trace', file]);
    assert.equal(r.code, 1, r.stderr);
    const run = JSON.parse(r.stdout) as TraceRun;
    assert.equal(run.database.kind, 'embedded');
    assert.deepEqual(
      run.statements.map((s) => s.status),
      ['traced', 'traced', 'failed'],
    );
    assert.equal(run.statements[1]!.rewrite, true);
    assert.equal(run.statements[1]!.locks.find((l) => l.relation === 'a')?.newRelation, true, 'a table of this transaction blocks nobody');
  });

  it('human output names the locks, the rewrite and the hold times', async () => {
    const db = await createTestDatabase();
    try {
      await db.query(SCHEMA);
      const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-trace-'));
      const file = path.join(dir, 'h.sql');
      await writeFile(file, 'ALTER TABLE t ALTER COLUMN c TYPE bigint;\nCREATE INDEX CONCURRENTLY t_c_idx ON t (c);\n');
      const r = await runCli(['--database-url', db.url, 'trace', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /REWRITE {2}t \(table\)/);
      assert.match(r.stdout, /ACCESS EXCLUSIVE +t \(table\) +held [\d.]+ ms +blocks everything/);
      assert.match(r.stdout, /not traced: cannot run inside a transaction/);
      assert.match(r.stdout, /rolled back at the end: nothing was changed/);
    } finally {
      await db.drop();
    }
  });
});
