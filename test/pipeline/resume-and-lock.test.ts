import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunnerBusyError } from '../../src/errors.js';
import { readMigrationDirectory } from '../../src/pipeline/directory.js';
import { migrateDirectory } from '../../src/pipeline/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTable, databaseSnapshot, type Dir, historyRows, scratchDir, seedRows, tandemJson } from './support.js';

interface ErrorJson {
  error: { code: string; exitCode: number; message: string; file: string; migration: string; phase: string; step?: string };
}

const uniqueLabels = 'operations:\n  - create_index: { name: items_label_key, table: items, unique: true, columns: [{ column: label }] }\n';

describe('a failed step, and the runner lock', () => {
  let db: TestDatabase;
  let dir: Dir;
  before(async () => {
    db = await createTestDatabase();
    dir = await scratchDir();
    await dir.write('0001_items.yaml', createTable('items'));
    await dir.write('0002_seed.yaml', seedRows('items', 30));
  });
  after(async () => {
    await db.drop();
    await dir.remove();
  });

  test('a failed step names the file and the step (exit 1); the next migrate resumes it', async () => {
    await tandemJson(db, ['migrate', dir.path, '--complete']);
    const client = await db.connect();
    await client.query(`UPDATE items SET label = 'same' WHERE id <= 2`);
    await dir.write('0003_unique_label.yaml', uniqueLabels);
    const failed = await tandemJson<ErrorJson>(db, ['migrate', dir.path], 1);
    assert.equal(failed.error.exitCode, 1);
    assert.equal(failed.error.migration, '0003_unique_label');
    assert.equal(failed.error.phase, 'start');
    assert.match(failed.error.file, /0003_unique_label\.yaml$/);
    assert.ok(failed.error.step, 'the step is named');
    assert.match(failed.error.message, /migrate stopped at 0003_unique_label\.yaml .*start, step "/);
    assert.match(failed.error.message, /run `tandem migrate` again to resume/);
    // The cause is fixed; the same command goes on from the failed step.
    await client.query(`UPDATE items SET label = 'row ' || id WHERE id <= 2`);
    const files = await readMigrationDirectory(dir.path);
    const resumed = await migrateDirectory(client, files, { lockTimeoutMs: 200, lockRetryForMs: 10_000 });
    assert.deepEqual(
      resumed.actions.map((a) => [a.kind, a.migration, a.resumed]),
      [['start', '0003_unique_label', true]],
    );
    assert.equal(resumed.leftActive, '0003_unique_label');
    assert.deepEqual(
      (await historyRows(client)).map((h) => [h.name, h.phase]),
      [
        ['0001_items', 'completed'],
        ['0002_seed', 'completed'],
        ['0003_unique_label', 'active'],
      ],
    );
  });

  test('the runner lock is held for the whole run: a second migrate of the schema fails fast (runner-busy), changing nothing', async () => {
    await dir.write('0004_more.yaml', createTable('more'));
    const holder = await db.connect('other-runner');
    const client = await db.connect();
    const files = await readMigrationDirectory(dir.path);
    // Another runner (here, a session holding the same advisory lock) is working on schema public.
    await holder.query(`SELECT pg_advisory_lock(${0x7a4d}, hashtext('tandem:public'))`);
    const snapshot = await databaseSnapshot(client);
    await assert.rejects(migrateDirectory(client, files, { lockTimeoutMs: 200 }), (err: unknown) => err instanceof RunnerBusyError);
    assert.deepEqual(await databaseSnapshot(client), snapshot);
    // With --wait it queues behind the holder, then runs.
    const waiting = migrateDirectory(client, files, { lockTimeoutMs: 200, wait: true });
    await holder.query(`SELECT pg_advisory_unlock(${0x7a4d}, hashtext('tandem:public'))`);
    const r = await waiting;
    assert.deepEqual(
      r.actions.map((a) => [a.kind, a.migration]),
      [
        ['complete', '0003_unique_label'],
        ['start', '0004_more'],
      ],
    );
  });
});
