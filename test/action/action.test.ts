import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { runActionStep } from './run-step.js';

/**
 * The GitHub Action's step script (scripts/action/run.mjs, what action.yml runs), played as the
 * runner plays it: INPUT_* variables, a $GITHUB_OUTPUT and a $GITHUB_STEP_SUMMARY file, the real
 * CLI, a real database. Checks the annotations, the summary and the outputs of each command.
 */

let work: string;
const step = (inputs: Record<string, string>, databaseUrl?: string) => runActionStep(work, inputs, databaseUrl);

describe('GitHub Action steps (scripts/action/run.mjs)', () => {
  let db: TestDatabase;
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'tandem-action-'));
    db = await createTestDatabase();
  });
  after(() => db.drop());

  it('lint: an annotation on the line, a summary table, the counts as outputs, exit 1 on an error', async () => {
    await mkdir(path.join(work, 'sql'));
    await writeFile(path.join(work, 'sql', 'risky.sql'), '-- widen n\n\nALTER TABLE t ALTER COLUMN n TYPE bigint;\n');
    const r = await step({ command: 'lint', paths: 'sql' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^::error file=sql\/risky\.sql,line=3,col=\d+,[^:]*::/m);
    assert.ok(Number(r.outputs['errors']) >= 1, JSON.stringify(r.outputs));
    assert.match(r.summary, /### tandem lint: \d+ error\(s\)/);
    assert.match(r.summary, /\| ❌ \| `sql\/risky\.sql:3` \|/);
  });

  it('plan → comment body; migrate → latest-schema; complete; a second migrate, then rollback', async () => {
    const dir = path.join(work, 'migrations');
    await mkdir(dir);
    await writeFile(
      path.join(dir, '0001_users.yaml'),
      'operations:\n  - create_table: { name: users, columns: [ {name: id, type: int, pk: true}, {name: name, type: text, nullable: true} ] }\n',
    );
    const url = db.url;
    const plan = await step({ command: 'plan', dir: 'migrations', estimate: 'false' }, url);
    assert.equal(plan.code, 0, plan.stderr);
    const body = await readFile(plan.outputs['comment-body-file']!, 'utf8');
    assert.match(body, /^### tandem plan: `migrations`/);
    assert.match(body, /CREATE TABLE/);
    assert.equal(plan.outputs['comment-body'], body.trimEnd());
    assert.match(plan.summary, /CREATE TABLE/);
    assert.doesNotMatch(plan.stdout + plan.stderr + body, new RegExp(url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the connection string is never printed');

    const migrate = await step({ command: 'migrate', dir: 'migrations' }, url);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.equal(migrate.outputs['latest-schema'], 'public_0001_users');
    assert.match(migrate.summary, /search_path=public_0001_users/);
    const complete = await step({ command: 'complete' }, url);
    assert.equal(complete.code, 0, complete.stderr);
    assert.equal(complete.outputs['latest-schema'], 'public_0001_users');

    await writeFile(path.join(dir, '0002_plan.yaml'), `operations:\n  - add_column: { table: users, column: { name: plan, type: text, default: "'free'" } }\n`);
    const second = await step({ command: 'migrate', dir: 'migrations' }, url);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.outputs['latest-schema'], 'public_0002_plan');
    assert.equal(second.outputs['left-active'], '0002_plan');
    const rollback = await step({ command: 'rollback' }, url);
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.equal(rollback.outputs['latest-schema'], 'public_0001_users', 'after rollback the app stays on the previous version');
    const cols = await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'plan'`);
    assert.equal(cols.rowCount, 0);

    // A failing command: exit code passed on, the error in the summary.
    const again = await step({ command: 'complete' }, url);
    assert.equal(again.code, 2);
    assert.match(again.summary, /### tandem complete: failed \(exit 2\)/);
  });
});
