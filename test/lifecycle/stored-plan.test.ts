/** The plan stored with a migration is checked when it is read back: nothing runs from a plan of another shape. */
import { status } from '../../src/engine/status.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidStoredPlanError } from '../../src/errors.js';
import { migration, run, runComplete, runRollback, withDatabase } from './support.js';

const SETUP = `CREATE TABLE users (id integer PRIMARY KEY, name text); INSERT INTO users VALUES (1, 'a');`;

test('a stored plan of another format version stops complete and rollback with invalid-stored-plan, changing nothing', async () => {
  await withDatabase(SETUP, async (env) => {
    await run(env, migration({ name: 'm1', operations: [{ alter_column: { table: 'users', column: 'name', nullable: false, up: "coalesce(name, '')" } }] }));
    const stored = await env.engine.query<{ id: string; v: number }>(`SELECT id::text, (plan->>'formatVersion')::int AS v FROM tandem.migrations`);
    assert.equal(stored.rows[0]!.v, 1);
    await env.engine.query(`UPDATE tandem.migrations SET plan = jsonb_set(plan, '{formatVersion}', '2')`);
    for (const command of [runComplete, runRollback]) {
      await assert.rejects(command(env), (err: unknown) => {
        assert.ok(err instanceof InvalidStoredPlanError, String(err));
        assert.equal(err.code, 'invalid-stored-plan');
        assert.equal(err.migrationId, stored.rows[0]!.id);
        assert.equal(err.migration, 'm1');
        return true;
      });
    }
    const row = await env.engine.query(`SELECT phase FROM tandem.migrations`);
    assert.deepEqual(row.rows, [{ phase: 'active' }]);
    assert.equal((await env.engine.query(`SELECT count(*)::int AS n FROM tandem.steps WHERE phase <> 'start'`)).rows[0].n, 0);
  });
});

test('an unreadable plan of a finished migration does not stop status from listing the history, nor complete from saying it is done', async () => {
  await withDatabase(SETUP, async (env) => {
    await run(env, migration({ name: 'm1', operations: [{ alter_column: { table: 'users', column: 'name', nullable: false, up: "coalesce(name, '')" } }] }));
    await runComplete(env);
    await env.engine.query(`UPDATE tandem.migrations SET plan = '{"formatVersion": 99}'`);
    const report = await status(env.engine, 'public');
    assert.equal(report.inProgress, null);
    assert.deepEqual(
      report.history.map((h) => [h.name, h.phase]),
      [['m1', 'completed']],
    );
    // Nor does it stop a CI retry of `complete` from saying the migration is finished.
    assert.equal((await runComplete(env)).alreadyDone, true);
  });
});
