// @tier slow
/**
 * The 50+ file directory (test/fixtures/pipeline/migrations, written by generate.ts there), every
 * operation of the format: `migrate` from an empty database applies all of it; a second `migrate`
 * is a no-op (its time is printed: the target is < 2 s for the whole command); a changed applied
 * file, an out-of-order file and a duplicate name are each refused with exit 2 and the database
 * (catalog and tandem rows) unchanged; `pull` into an empty directory gives files that `migrate`
 * recognises as the applied ones.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { operationKinds } from '../../src/migration/schema.js';
import { readMigrationDirectory } from '../../src/pipeline/directory.js';
import { projectRoot } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { databaseSnapshot, type Dir, historyRows, scratchDir, tandemJson } from './support.js';

const FIXTURE = path.join(projectRoot, 'test', 'fixtures', 'pipeline', 'migrations');

interface MigrateJson {
  applied: string[];
  completed: string[];
  leftActive: string | null;
  actions: unknown[];
  durationMs: number;
  latest: { versionSchema: string };
}

describe('migrate of the 50+ file fixture directory', () => {
  let db: TestDatabase;
  let dir: Dir;
  before(async () => {
    db = await createTestDatabase();
    dir = await scratchDir();
    await cp(FIXTURE, dir.path, { recursive: true });
  });
  after(async () => {
    await db.drop();
    await dir.remove();
  });

  test('the fixture has 50+ files and covers every operation', async () => {
    const files = await readMigrationDirectory(dir.path);
    assert.ok(files.length >= 50, `${files.length} files`);
    const kinds = new Set(files.flatMap((f) => f.migration.operations.map((o) => o.kind)));
    assert.deepEqual([...kinds].sort(), [...operationKinds].sort());
  });

  test('from empty, migrate applies every file; a second migrate is a no-op', async () => {
    const files = await readMigrationDirectory(dir.path);
    const t0 = performance.now();
    const first = await tandemJson<MigrateJson>(db, ['migrate', dir.path, '--batch-size', '100']);
    const applyMs = performance.now() - t0;
    assert.equal(first.applied.length, files.length);
    assert.equal(first.completed.length, files.length - 1);
    assert.equal(first.leftActive, files.at(-1)!.name);
    const client = await db.connect();
    const history = await historyRows(client);
    assert.deepEqual(
      history.map((h) => [h.name, h.file_name]),
      files.map((f) => [f.name, f.fileName]),
    );
    assert.deepEqual(
      history.map((h) => h.file_checksum),
      files.map((f) => f.checksum),
    );

    const snapshot = await databaseSnapshot(client);
    const t1 = performance.now();
    const again = await tandemJson<MigrateJson>(db, ['migrate', dir.path]);
    const noopMs = performance.now() - t1;
    assert.deepEqual(again.actions, []);
    assert.deepEqual(await databaseSnapshot(client), snapshot);
    console.log(
      `fixture directory: ${files.length} files applied in ${Math.round(applyMs)} ms; ` +
        `no-op migrate ${Math.round(noopMs)} ms for the whole command (${again.durationMs} ms of it connected, under the runner lock) — target < 2000 ms`,
    );
    // The command's own work, without process start-up (which a loaded machine stretches).
    assert.ok(again.durationMs < 2_000, `no-op migrate took ${again.durationMs} ms connected`);
  });

  test('drift, out of order and a duplicate name are each refused with exit 2, the database unchanged', async () => {
    const client = await db.connect();
    const snapshot = await databaseSnapshot(client);
    const files = await readMigrationDirectory(dir.path);
    const applied = files[9]!;
    const original = await readFile(applied.file, 'utf8');
    await writeFile(applied.file, original.replace(/\n$/, '\n\n'));
    const drift = await tandemJson<{ error: { code: string; message: string } }>(db, ['migrate', dir.path], 2);
    assert.equal(drift.error.code, 'migration-drift');
    assert.match(drift.error.message, new RegExp(applied.fileName.replace('.', '\\.')));
    await writeFile(applied.file, original);

    await dir.write('0020a_late.yaml', 'operations:\n  - add_column: { table: authors, column: { name: late, type: text, nullable: true } }\n');
    const order = await tandemJson<{ error: { code: string; message: string } }>(db, ['migrate', dir.path], 2);
    assert.equal(order.error.code, 'out-of-order');
    assert.match(order.error.message, /0020a_late\.yaml is not applied but sorts before/);
    await writeFile(
      path.join(dir.path, '0020a_late.yaml'),
      `name: ${files[2]!.name}\noperations:\n  - add_column: { table: authors, column: { name: late, type: text, nullable: true } }\n`,
    );
    const dup = await tandemJson<{ error: { code: string } }>(db, ['migrate', dir.path], 2);
    assert.equal(dup.error.code, 'duplicate-migration-name');
    assert.deepEqual(await databaseSnapshot(client), snapshot);
    await (await import('node:fs/promises')).unlink(path.join(dir.path, '0020a_late.yaml'));
  });

  test('pull into an empty directory writes every applied migration; migrate of it is a no-op', async () => {
    const pulled = await scratchDir();
    try {
      const r = await tandemJson<{ written: { file: string }[] }>(db, ['pull', pulled.path]);
      const files = await readMigrationDirectory(dir.path);
      assert.deepEqual(
        r.written.map((w) => path.basename(w.file)),
        files.map((f) => f.fileName),
      );
      const again = await tandemJson<MigrateJson>(db, ['migrate', pulled.path]);
      assert.deepEqual(again.actions, []);
    } finally {
      await pulled.remove();
    }
  });
});
