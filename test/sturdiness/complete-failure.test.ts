/**
 * Defect 2 of issue 7: a `complete` that fails must never strand the migration. Everything that
 * can fail runs before anything the old version needs is removed, and the removal is one
 * transaction; so a failed complete can be run again or rolled back, and `status` says which.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type pg from 'pg';
import { start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import type { TestDatabase } from '../helpers/db.js';
import { cli, freshDatabase, killSpawned, migrations } from './support.js';

const SETUP = `
  CREATE FUNCTION score_ok(v integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, score text);
  INSERT INTO users SELECT g, 'u' || g, (g % 100)::text FROM generate_series(1, 300) g;`;

/** A first migration, completed: its version schema is the previous one while the second runs. */
const BASE = { name: 'c0_base', operations: [{ add_column: { table: 'users', column: { name: 'note', type: 'text', nullable: true } } }] };
const PREVIOUS = 'public_c0_base';
const scoreToInteger = (name: string, check?: string) => ({
  name,
  operations: [
    {
      alter_column: {
        table: 'users',
        column: 'score',
        type: 'integer',
        up: 'CAST(score AS integer)',
        down: 'CAST(score AS text)',
        ...(check ? { check: { name: 'users_score_ok', constraint: check } } : {}),
      },
    },
  ],
});

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop();
});

interface Started {
  db: TestDatabase;
  engine: pg.Client;
  before: { public: Record<string, unknown>; previous: Record<string, unknown> };
}

/** c0_base started and completed, then the catalog recorded, then the second migration started. */
async function startSecond(doc: ReturnType<typeof scoreToInteger>): Promise<Started> {
  const db = await freshDatabase(SETUP, dbs);
  const engine = await db.connect('tandem-setup');
  const options = { batchSize: 50, lockTimeoutMs: 200, lockRetryForMs: 5_000 };
  await start(engine, parseMigration(BASE, undefined), { ...options, complete: true });
  const before = { public: await catalogSnapshot(engine), previous: await catalogSnapshot(engine, PREVIOUS) };
  await start(engine, parseMigration(doc, undefined), options);
  return { db, engine, before };
}

/** The old version still works: the previous version schema and the old column are there, and it writes. */
async function assertOldVersionWorks(s: Started, id: number): Promise<void> {
  const old = await s.db.connect('old-app');
  await old.query(`SET search_path TO ${PREVIOUS}`);
  await old.query(`INSERT INTO users (id, name, score, note) VALUES ($1, 'old', '7', 'from the old version')`, [id]);
  await old.query(`UPDATE users SET score = '8' WHERE id = 1`);
  const cols = (await s.db.query(`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'score'`)).rows;
  assert.deepEqual(cols, [{ type: 'text' }], "the old version's score column is still text");
  assert.equal((await s.db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, [PREVIOUS])).rows[0].n, 1);
}

async function nextCommands(db: TestDatabase): Promise<{ phase: string; next: string[]; lastError: { step: string; code?: string; sqlstate?: string } | null }> {
  const s = await cli(['status'], db.url);
  assert.equal(s.code, 0, s.stderr);
  const p = (s.json as { inProgress: { phase: string; next: string[]; lastError: { step: string; code?: string; sqlstate?: string } | null } }).inProgress;
  return { phase: p.phase, next: p.next, lastError: p.lastError };
}

async function assertRolledBackToBefore(s: Started): Promise<void> {
  const rb = await cli(['rollback'], s.db.url);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal((rb.json as { alreadyDone: boolean }).alreadyDone, false);
  // The catalog is as before start, the previous version schema included (rows written meanwhile aside).
  assert.deepEqual(await catalogSnapshot(s.engine), s.before.public);
  assert.deepEqual(await catalogSnapshot(s.engine, PREVIOUS), s.before.previous);
  assert.deepEqual(
    (await migrations(s.db)).map((m) => [m.name, m.phase]),
    [
      ['c0_base', 'completed'],
      ['c1_score', 'rolled_back'],
    ],
  );
}

describe('a failed complete can be run again or rolled back', () => {
  test(
    'a constraint the data violates fails validation at complete: exit 1, nothing removed, status offers rollback, rollback restores the catalog',
    { timeout: 120_000 },
    async () => {
      const s = await startSecond(scoreToInteger('c1_score', 'score_ok(score)'));
      // The check passed NOT VALID at start; the function it calls now rejects most existing rows.
      await s.db.query(`CREATE OR REPLACE FUNCTION score_ok(v integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT v < 50'`);

      const c = await cli(['complete'], s.db.url);
      assert.equal(c.code, 1, c.stderr);
      await assertOldVersionWorks(s, 1001);
      assert.equal((c.json as { error: { details?: { sqlstate?: string } } }).error.details?.sqlstate, '23514', 'check_violation');

      const st = await nextCommands(s.db);
      assert.deepEqual([st.phase, st.next], ['completing', ['complete', 'rollback']]);
      assert.match(st.lastError!.step, /^validate:/);
      assert.equal(st.lastError!.sqlstate, '23514', 'the last error keeps the SQLSTATE');
      await assertRolledBackToBefore(s);
    },
  );

  test(
    'rows out of sync (written bypassing the sync trigger): complete refuses, exit 1 backfill-incomplete, nothing removed; once synced, complete succeeds',
    { timeout: 120_000 },
    async () => {
      const s = await startSecond(scoreToInteger('c1_score'));
      // A write that bypassed the trigger (replication role): the old column changed, the new one not.
      const bypass = await s.db.connect('bypass');
      await bypass.query(`SET session_replication_role = replica`);
      await bypass.query(`UPDATE users SET score = '999', _tandem_synced = NULL WHERE id BETWEEN 10 AND 14`);

      const c = await cli(['complete'], s.db.url);
      assert.equal(c.code, 1, c.stderr);
      assert.equal(c.errorCode, 'backfill-incomplete');
      assert.match(c.stderr, /hint: .*UPDATE/);
      await assertOldVersionWorks(s, 1004);
      const st = await nextCommands(s.db);
      assert.deepEqual([st.phase, st.next, st.lastError?.step], ['completing', ['complete', 'rollback'], 'verify-backfill:users']);

      // What the hint says: sync them through the trigger, from the old columns.
      await s.db.query(`BEGIN; SET LOCAL tandem.version = '__tandem_backfill'; UPDATE public.users SET _tandem_synced = true WHERE _tandem_synced IS NOT TRUE; COMMIT;`);
      const again = await cli(['complete'], s.db.url);
      assert.equal(again.code, 0, again.stderr);
      const scores = await s.db.query(`SELECT count(*)::int AS n FROM users WHERE id BETWEEN 10 AND 14 AND score = 999`);
      assert.equal(scores.rows[0].n, 5);
    },
  );

  test('the contract step gives up on its lock: exit 1, nothing removed; complete again after the lock is released succeeds', { timeout: 120_000 }, async () => {
    const s = await startSecond(scoreToInteger('c1_score'));
    const blocker = await s.db.connect('report');
    await blocker.query('BEGIN');
    await blocker.query('SELECT count(*) FROM users');

    const c = await cli(['complete', '--lock-timeout', '50', '--lock-retry-for', '800'], s.db.url);
    assert.equal(c.code, 1, c.stderr);
    assert.equal(c.errorCode, 'lock-timeout');
    await assertOldVersionWorks(s, 1002);
    const st = await nextCommands(s.db);
    assert.deepEqual([st.phase, st.next], ['completing', ['complete', 'rollback']]);
    assert.equal(st.lastError!.step, 'contract');
    // The stable code and PostgreSQL's SQLSTATE are kept apart: 55P03 is the lock timeout's own.
    assert.deepEqual([st.lastError!.code, st.lastError!.sqlstate], ['lock-timeout', '55P03']);
    await blocker.query('COMMIT');

    const again = await cli(['complete'], s.db.url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      (await migrations(s.db)).map((m) => m.phase),
      ['completed', 'completed'],
    );
    assert.equal((await s.db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, [PREVIOUS])).rows[0].n, 0);
    const scores = await s.db.query(`SELECT id, score FROM public.users WHERE id IN (1, 2, 1002) ORDER BY id`);
    assert.deepEqual(scores.rows, [
      { id: 1, score: 8 },
      { id: 2, score: 2 },
      { id: 1002, score: 7 },
    ]);
  });

  test('the contract step gives up on its lock: rollback instead succeeds and restores the catalog', { timeout: 120_000 }, async () => {
    const s = await startSecond(scoreToInteger('c1_score'));
    const blocker = await s.db.connect('report');
    await blocker.query('BEGIN');
    await blocker.query('SELECT count(*) FROM users');
    const c = await cli(['complete', '--lock-timeout', '50', '--lock-retry-for', '800'], s.db.url);
    assert.equal(c.code, 1, c.stderr);
    assert.equal(c.errorCode, 'lock-timeout');
    await blocker.query('COMMIT');
    await assertOldVersionWorks(s, 1003);
    await assertRolledBackToBefore(s);
  });

  test('after the point of no return rollback is refused and status offers only complete', { timeout: 120_000 }, async () => {
    const s = await startSecond(scoreToInteger('c1_score'));
    const c = await cli(['complete'], s.db.url);
    assert.equal(c.code, 0, c.stderr);
    // The state a complete killed right after its contract transaction leaves.
    await s.db.query(`UPDATE tandem.migrations SET phase = 'completing' WHERE name = 'c1_score'`);
    const st = await nextCommands(s.db);
    assert.deepEqual([st.phase, st.next], ['completing', ['complete']]);
    const rb = await cli(['rollback'], s.db.url);
    assert.equal(rb.code, 2, rb.stderr);
    assert.equal(rb.errorCode, 'completing');
    const again = await cli(['complete'], s.db.url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      (await migrations(s.db)).map((m) => m.phase),
      ['completed', 'completed'],
    );
  });
});
