import assert from 'node:assert/strict';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readMigrationDirectory } from '../../src/pipeline/directory.js';
import { DirectoryError } from '../../src/pipeline/errors.js';
import { migrateDirectory, type MigrateResult } from '../../src/pipeline/migrate.js';
import type { MigrateOptions } from '../../src/pipeline/reconcile.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { addColumn, createTable, databaseSnapshot, type Dir, historyRows, scratchDir, seedRows, sha256OfFile, tandem, tandemJson } from './support.js';

interface MigrateJson {
  applied: string[];
  completed: string[];
  leftActive: string | null;
  pending: string[];
  latestVersionSchema: string;
  latest: { versionSchema: string; migration: string | null; phase: string | null };
  actions: { kind: string; migration: string; resumed: boolean }[];
}

interface ErrorJson {
  error: { code: string; exitCode: number; message: string; details?: Record<string, unknown>; file?: string; step?: string; phase?: string };
}

/** `migrate` in this process (the CLI's own code path after parsing): quicker than a process per run. */
async function migrateIn(db: TestDatabase, dir: string, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const client = await db.connect();
  try {
    return await migrateDirectory(client, await readMigrationDirectory(dir), { lockTimeoutMs: 200, lockRetryForMs: 10_000, ...opts });
  } finally {
    await client.end();
  }
}

const refused = (code: string) => (err: unknown) => err instanceof DirectoryError && err.code === code && err.exitCode === 2;

describe('tandem migrate <dir>', () => {
  let db: TestDatabase;
  let dir: Dir;
  before(async () => {
    db = await createTestDatabase();
    dir = await scratchDir();
    await dir.write('0001_items.yaml', createTable('items'));
    await dir.write('0002_seed.yaml', seedRows('items', 50));
    await dir.write('0003_color.yaml', addColumn('items', 'color'));
    await dir.write('README.md', 'not a migration\n');
  });
  after(async () => {
    await db.drop();
    await dir.remove();
  });

  test('applies the pending files in file-name order and leaves the last one active; a second run changes nothing', async () => {
    const r = await tandemJson<MigrateJson>(db, ['migrate', dir.path]);
    assert.deepEqual(r.applied, ['0001_items', '0002_seed', '0003_color']);
    assert.deepEqual(r.completed, ['0001_items', '0002_seed']);
    assert.equal(r.leftActive, '0003_color');
    assert.deepEqual(r.latest, { versionSchema: 'public_0003_color', migration: '0003_color', phase: 'active' });
    assert.equal(r.latestVersionSchema, 'public_0003_color');
    const rows = await historyRows(await db.connect());
    assert.deepEqual(
      rows.map((h) => [h.name, h.phase, h.file_name, h.baseline]),
      [
        ['0001_items', 'completed', '0001_items.yaml', false],
        ['0002_seed', 'completed', '0002_seed.yaml', false],
        ['0003_color', 'active', '0003_color.yaml', false],
      ],
    );
    for (const h of rows) assert.equal(h.file_checksum, await sha256OfFile(path.join(dir.path, h.file_name!)));

    const client = await db.connect();
    const snapshot = await databaseSnapshot(client);
    const again = await tandemJson<MigrateJson>(db, ['migrate', dir.path]);
    assert.deepEqual(again.actions, []);
    assert.equal(again.leftActive, '0003_color');
    assert.deepEqual(await databaseSnapshot(client), snapshot, 'a run with nothing pending changes nothing');

    // `latest`, from the database and from the files: what the new app's search_path is.
    assert.equal((await tandem(db, ['latest'])).stdout.trim(), 'public_0003_color');
    assert.equal((await tandem(db, ['latest', 'migration'])).stdout.trim(), '0003_color');
  });

  test('the next deploy completes the migration left active before starting the new one', async () => {
    await dir.write('0004_size.json', JSON.stringify({ operations: [{ add_column: { table: 'items', column: { name: 'size', type: 'integer', nullable: true } } }] }));
    const r = await migrateIn(db, dir.path);
    assert.deepEqual(
      r.actions.map((a) => [a.kind, a.migration]),
      [
        ['complete', '0003_color'],
        ['start', '0004_size'],
      ],
    );
    assert.equal(r.leftActive, '0004_size');
    // The new version sees both columns; the old one (the table) has them too once complete ran.
    const client = await db.connect();
    await client.query(`SET search_path TO public_0004_size`);
    await client.query(`INSERT INTO items (id, label, color, size) VALUES (1000, 'x', 'red', 3)`);
  });

  test('refuses a changed applied file, naming it and both checksums (exit 2, nothing changed)', async () => {
    const client = await db.connect();
    const snapshot = await databaseSnapshot(client);
    const file = path.join(dir.path, '0002_seed.yaml');
    const recorded = await sha256OfFile(file);
    await writeFile(file, `# a comment is a change too\n${seedRows('items', 50)}`);
    try {
      const r = await tandemJson<ErrorJson>(db, ['migrate', dir.path], 2);
      assert.equal(r.error.code, 'migration-drift');
      assert.match(r.error.message, /0002_seed\.yaml/);
      assert.match(r.error.message, new RegExp(recorded.slice(0, 12)));
      assert.match(r.error.message, new RegExp((await sha256OfFile(file)).slice(0, 12)));
      assert.match(r.error.message, /hint: restore the file/);
      assert.deepEqual(await databaseSnapshot(client), snapshot);
    } finally {
      await writeFile(file, seedRows('items', 50));
    }
  });

  test('refuses a pending file that sorts before the last applied one, unless --allow-out-of-order', async () => {
    const client = await db.connect();
    const snapshot = await databaseSnapshot(client);
    await dir.write('0002a_weight.yaml', addColumn('items', 'weight'));
    const r = await tandemJson<ErrorJson>(db, ['migrate', dir.path], 2);
    assert.equal(r.error.code, 'out-of-order');
    assert.match(r.error.message, /0002a_weight\.yaml is not applied but sorts before 0004_size\.json/);
    assert.match(r.error.message, /--allow-out-of-order/);
    assert.deepEqual(await databaseSnapshot(client), snapshot);
    // --expect-one counts it, but only with --allow-out-of-order is it pending at all.
    const allowed = await migrateIn(db, dir.path, { allowOutOfOrder: true, expectOne: true });
    assert.deepEqual(
      allowed.actions.map((a) => [a.kind, a.migration]),
      [
        ['complete', '0004_size'],
        ['start', '0002a_weight'],
      ],
    );
    // Once applied it is history like the others: a plain migrate accepts the directory again.
    assert.deepEqual((await migrateIn(db, dir.path)).actions, []);
  });

  test('refuses two files with the same migration name, and --expect-one with two pending files', async () => {
    const client = await db.connect();
    const snapshot = await databaseSnapshot(client);
    await dir.write('0005_a.yaml', `name: 0005_same\n${addColumn('items', 'a')}`);
    await dir.write('0006_b.yaml', `name: 0005_same\n${addColumn('items', 'b')}`);
    await assert.rejects(migrateIn(db, dir.path), (err: unknown) => {
      assert.ok(refused('duplicate-migration-name')(err));
      assert.match((err as Error).message, /0005_a\.yaml and 0006_b\.yaml both give the migration name "0005_same"/);
      return true;
    });
    await dir.write('0006_b.yaml', addColumn('items', 'b'));
    await assert.rejects(migrateIn(db, dir.path, { expectOne: true }), refused('more-than-one-pending'));
    assert.deepEqual(await databaseSnapshot(client), snapshot);
    // --until stops after the named one (left active), --complete then finishes it.
    const until = await migrateIn(db, dir.path, { until: '0005_same' });
    assert.deepEqual(until.applied, ['0005_same']);
    assert.deepEqual(until.pending, ['0006_b']);
    assert.equal(until.leftActive, '0005_same');
    const all = await tandemJson<MigrateJson>(db, ['migrate', dir.path, '--complete']);
    assert.deepEqual(all.completed, ['0005_same', '0006_b']);
    assert.equal(all.leftActive, null);
    assert.deepEqual(all.latest, { versionSchema: 'public_0006_b', migration: '0006_b', phase: 'completed' });
  });
});

describe('migrate on a database without tandem state', () => {
  test('a bad file, duplicate names, --expect-one: exit 2 and not even the state schema is created', async () => {
    const db = await createTestDatabase();
    const dir = await scratchDir();
    try {
      const client = await db.connect();
      await dir.write('0001_a.yaml', createTable('a'));
      await dir.write('0002_b.yaml', 'operations:\n  - add_column: { table: a, column: { name: x } }\n');
      const bad = await tandemJson<ErrorJson>(db, ['migrate', dir.path], 2);
      assert.equal(bad.error.code, 'invalid-field');
      assert.match(bad.error.message, /0002_b\.yaml, operations\[0\] \(add_column\), field "column\.type"/);
      await dir.write('0002_b.yaml', `name: 0001_a\n${createTable('b')}`);
      await assert.rejects(migrateIn(db, dir.path), refused('duplicate-migration-name'));
      await dir.write('0002_b.yaml', createTable('b'));
      await assert.rejects(migrateIn(db, dir.path, { expectOne: true }), refused('more-than-one-pending'));
      // A file invalid against the database (an unknown table), first in line: exit 2, nothing changed.
      await dir.write('0000_first.yaml', addColumn('missing_table', 'x'));
      const missing = await tandemJson<ErrorJson>(db, ['migrate', dir.path], 2);
      assert.equal(missing.error.code, 'table-not-found');
      assert.match(missing.error.message, /migrate stopped at 0000_first\.yaml/);
      assert.equal((await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'tandem'`)).rowCount, 0);
      // `latest --dir` needs no database; an empty directory is nothing to do.
      await unlink(path.join(dir.path, '0000_first.yaml'));
      const latest = await tandem(db, ['latest', '--dir', dir.path]);
      assert.equal(latest.stdout.trim(), 'public_0002_b');
      const empty = await scratchDir();
      assert.deepEqual((await migrateIn(db, empty.path)).actions, []);
      await empty.remove();
      assert.equal((await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'tandem'`)).rowCount, 0);
    } finally {
      await dir.remove();
      await db.drop();
    }
  });
});
