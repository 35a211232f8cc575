/**
 * No half-made state row: a `start` that fails (exit 1) before any of its steps committed changed
 * nothing, so it leaves no `starting` migration behind — only its audit log entries, which keep
 * the migration's name.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { catalogSnapshot } from '../helpers/catalog.js';
import type { TestDatabase } from '../helpers/db.js';
import { writeMigrationFile } from '../concurrency/support.js';
import { cli, freshDatabase, killSpawned, migrations } from './support.js';
import { SCORE_SETUP, scoreToInteger } from './support.js';

const SETUP = SCORE_SETUP;
const doc = scoreToInteger;

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop();
});

async function auditOf(db: TestDatabase, name: string): Promise<{ migration_id: string | null; step_id: string; outcome: string }[]> {
  return (await db.query(`SELECT migration_id, step_id, outcome FROM tandem.audit_log WHERE migration_name = $1 ORDER BY id`, [name])).rows as {
    migration_id: string | null;
    step_id: string;
    outcome: string;
  }[];
}

test('the first step fails at run time: exit 1, no migration row left, the audit entries kept; start again begins afresh', { timeout: 60_000 }, async () => {
  const db = await freshDatabase(SETUP, dbs);
  // Something the plan cannot foresee: an event trigger that refuses every ALTER TABLE.
  await db.query(`CREATE FUNCTION no_alter() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'ALTER TABLE is frozen today'; END $$;
                  CREATE EVENT TRIGGER no_alter ON ddl_command_start WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION no_alter()`);
  const client = await db.connect();
  const before = await catalogSnapshot(client);
  const file = writeMigrationFile('s1_score', doc('s1_score'));

  const r = await cli(['start', file], db.url);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(await migrations(db), [], 'no half-made starting row');
  assert.equal(r.errorCode, 'execution-failed');
  // Nothing to roll back: the hint must not send the user to `tandem rollback` (it would exit 2).
  assert.doesNotMatch(r.stderr, /run `tandem rollback`/);
  assert.deepEqual(await catalogSnapshot(client), before);
  assert.deepEqual(await auditOf(db, 's1_score'), [{ migration_id: null, step_id: 'expand:users', outcome: 'failed' }]);
  const status = await cli(['status'], db.url);
  assert.equal((status.json as { inProgress: unknown }).inProgress, null);
  // CI's `tandem start … || tandem rollback`: nothing to undo, so rollback succeeds and says so.
  const rb = await cli(['rollback'], db.url);
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(rb.json, { migration: 's1_score', versionSchema: 'public_s1_score', alreadyDone: true });
  assert.deepEqual(await catalogSnapshot(client), before);

  await db.query('DROP EVENT TRIGGER no_alter');
  const again = await cli(['start', file], db.url);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.json as { resumed: boolean }).resumed, false);
  assert.deepEqual(
    (await migrations(db)).map((m) => [m.name, m.phase]),
    [['s1_score', 'active']],
  );
  assert.deepEqual((await auditOf(db, 's1_score')).map((a) => a.outcome).slice(0, 1), ['failed']);
});

test('the first step gives up on its lock: exit 1 lock-timeout, no migration row left', { timeout: 60_000 }, async () => {
  const db = await freshDatabase(SETUP, dbs);
  const blocker = await db.connect('report');
  await blocker.query('BEGIN');
  await blocker.query('SELECT count(*) FROM users');
  const file = writeMigrationFile('s2_score', doc('s2_score'));

  const r = await cli(['start', file, '--lock-timeout', '50', '--lock-retry-for', '500'], db.url);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.errorCode, 'lock-timeout');
  assert.deepEqual(await migrations(db), []);
  const audit = await auditOf(db, 's2_score');
  assert.ok(audit.length > 0 && audit.every((a) => a.migration_id === null && a.step_id === 'expand:users' && a.outcome === 'lock_timeout'), JSON.stringify(audit));
  await blocker.query('COMMIT');
});

test('a failure after a step committed keeps the row: the migration can be resumed or rolled back', { timeout: 60_000 }, async () => {
  const db = await freshDatabase(`${SETUP} UPDATE users SET score = 'abc' WHERE id = 37;`, dbs);
  const file = writeMigrationFile('s3_score', doc('s3_score'));
  const r = await cli(['start', file], db.url);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(
    (await migrations(db)).map((m) => m.phase),
    ['starting'],
  );
  assert.equal((await cli(['rollback'], db.url)).code, 0);
});
