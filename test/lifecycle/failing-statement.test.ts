/**
 * A transactional step is sent in one round trip; when one of its statements fails at run time
 * (no syntax error, so PostgreSQL gives no position), the error names that statement, not the
 * first one of the transaction, and nothing of the step is applied.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { ExecutionError } from '../../src/errors.js';
import { runPhase } from '../../src/exec/executor.js';
import { defaultExecOptions, silentReporter } from '../../src/exec/options.js';
import type { Action, Plan, SqlStep } from '../../src/plan/types.js';
import { initStateSchema, insertMigration } from '../../src/state/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let client: pg.Client;
before(async () => {
  db = await createTestDatabase();
  client = await db.connect('tandem');
  await initStateSchema(client);
});
after(() => db.drop());

const action = (sql: string, description: string): Action => ({ sql, lock: 'ACCESS EXCLUSIVE', transactional: true, description });

test('the message and details.sql name the statement that failed at run time (the 3rd of 4)', async () => {
  const failing = 'INSERT INTO step_probe SELECT 1 / (SELECT count(*)::int - 1 FROM step_probe)';
  const step: SqlStep = {
    kind: 'sql',
    id: 'probe',
    description: 'four statements, the third divides by zero',
    transactional: true,
    actions: [
      action('CREATE TABLE step_probe (n integer)', 'create'),
      action('INSERT INTO step_probe VALUES (1)', 'first row'),
      action(failing, 'fails at run time'),
      action('CREATE TABLE step_probe_after (n integer)', 'never reached'),
    ],
  };
  const row = await insertMigration(client, {
    schema: 'public',
    name: 'probe',
    versionSchema: 'public_probe',
    previousVersionSchema: null,
    migration: {},
    checksum: 'x',
    plan: {} as unknown as Plan,
  });
  const ctx = { client, migrationId: row.id, schema: 'public', migrationName: 'probe', options: defaultExecOptions, reporter: silentReporter };

  const err = await runPhase(ctx, 'start', [step]).then(
    () => assert.fail('the step should fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ExecutionError, String(err));
  assert.equal(err.code, 'execution-failed');
  assert.equal(err.details.sqlstate, '22012'); // division_by_zero
  assert.equal(err.details.sql, failing);
  assert.ok(err.message.includes(failing), err.message);

  // Nothing of the step was applied (the replay that found the statement was rolled back too).
  const tables = await client.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('step_probe', 'step_probe_after')`);
  assert.equal(tables.rows[0].n, 0);
  const audited = await client.query<{ statements: string; sqlstate: string }>(`SELECT statements, sqlstate FROM tandem.audit_log WHERE outcome = 'failed'`);
  assert.deepEqual(audited.rows, [{ statements: failing, sqlstate: '22012' }]);
});
