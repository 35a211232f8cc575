import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { baseline } from '../../src/pipeline/baseline.js';
import { readMigrationDirectory } from '../../src/pipeline/directory.js';
import { describeHistory, historyReport } from '../../src/pipeline/history.js';
import { pull } from '../../src/pipeline/pull.js';
import { migrateDirectory } from '../../src/pipeline/migrate.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { addColumn, databaseSnapshot, type Dir, historyRows, scratchDir, sha256OfFile, tandem, tandemJson } from './support.js';

const NOT_OVERWRITTEN = JSON.stringify({ name: 'pending_other', operations: [{ add_column: { table: 'users', column: { name: 'other', type: 'text', nullable: true } } }] });

interface HistoryJson {
  migrations: {
    name: string;
    phase: string;
    baseline: boolean;
    file: string | null;
    fileChecksum: string | null;
    appliedBy: string;
    client: string | null;
    startedAt: string;
    durations: { startMs: number | null; backfillMs: number | null; completeMs: number | null };
  }[];
}

describe('adopting a database: baseline, start outside migrate, pull, history', () => {
  let db: TestDatabase;
  let dir: Dir;
  before(async () => {
    db = await createTestDatabase();
    dir = await scratchDir();
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, name text); CREATE TABLE notes (body text);
      INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 40) g`);
  });
  after(async () => {
    await db.drop();
    await dir.remove();
  });

  test('baseline: a version schema of views over every table, no change to the tables, recorded as a completed baseline', async () => {
    const client = await db.connect();
    const tablesBefore = (await catalogSnapshot(client))['columns'];
    const r = await tandemJson<{ migration: string; versionSchema: string; tables: number; alreadyDone: boolean }>(db, ['baseline', '0000_baseline']);
    assert.deepEqual(r, { migration: '0000_baseline', versionSchema: 'public_0000_baseline', tables: 2, alreadyDone: false });
    const columns = (await catalogSnapshot(client))['columns'] as { relname: string }[];
    assert.deepEqual(columns, tablesBefore, 'no DDL on the tables');
    await client.query(`SET search_path TO public_0000_baseline`);
    assert.equal((await client.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, 40);
    await client.query(`RESET search_path`);
    assert.deepEqual(await historyRows(client), [{ name: '0000_baseline', phase: 'completed', file_name: null, file_checksum: null, baseline: true }]);
    assert.equal((await tandem(db, ['latest'])).stdout.trim(), 'public_0000_baseline');
    // Run again (a CI retry): already done. Another baseline on a schema with history: refused, nothing changed.
    assert.equal((await baseline(client, '0000_baseline')).alreadyDone, true);
    const snapshot = await databaseSnapshot(client);
    const refused = await tandemJson<{ error: { code: string } }>(db, ['baseline', 'again'], 2);
    assert.equal(refused.error.code, 'history-not-empty');
    assert.deepEqual(await databaseSnapshot(client), snapshot);
  });

  test('`tandem start <file>` records the file name and checksum: a later migrate of the directory recognises it', async () => {
    const file = await dir.write('0001_email.yaml', addColumn('users', 'email'));
    const started = await tandem(db, ['start', file]);
    assert.equal(started.code, 0, started.stderr);
    const client = await db.connect();
    const row = (await historyRows(client)).at(-1)!;
    assert.deepEqual(row, { name: '0001_email', phase: 'active', file_name: '0001_email.yaml', file_checksum: await sha256OfFile(file), baseline: false });
    await dir.write('0002_phone.yaml', addColumn('users', 'phone'));
    const r = await migrateDirectory(client, await readMigrationDirectory(dir.path), { lockTimeoutMs: 200 });
    assert.deepEqual(
      r.actions.map((a) => [a.kind, a.migration]),
      [
        ['complete', '0001_email'],
        ['start', '0002_phone'],
      ],
    );
    assert.deepEqual(r.notInDirectory, []);
  });

  test('pull writes the applied migrations missing from a directory, never overwriting; migrate recognises the pulled files', async () => {
    const pulled = await scratchDir();
    try {
      await pulled.write('0002_phone.yaml', await readFile(path.join(dir.path, '0002_phone.yaml'), 'utf8'));
      await pulled.write('0001_email.json', NOT_OVERWRITTEN);
      const r = await tandemJson<{ written: { file: string; migration: string }[] }>(db, ['pull', pulled.path]);
      // The name recorded when it was applied, with its extension: 0001_email.json (another migration's file) is left alone.
      assert.deepEqual(
        r.written.map((w) => [path.basename(w.file), w.migration]),
        [['0001_email.yaml', '0001_email']],
      );
      assert.equal(await readFile(path.join(pulled.path, '0001_email.json'), 'utf8'), NOT_OVERWRITTEN);
      assert.deepEqual((await readdir(pulled.path)).sort(), ['0001_email.json', '0001_email.yaml', '0002_phone.yaml']);
    } finally {
      await pulled.remove();
    }
    // Into an empty directory: every migration but the baseline; the pulled directory is the history.
    const fresh = await scratchDir();
    try {
      const r = await tandemJson<{ written: { file: string }[] }>(db, ['pull', fresh.path]);
      assert.deepEqual(
        r.written.map((w) => path.basename(w.file)),
        ['0001_email.yaml', '0002_phone.yaml'],
      );
      const client = await db.connect();
      const snapshot = await databaseSnapshot(client);
      const again = await migrateDirectory(client, await readMigrationDirectory(fresh.path), { lockTimeoutMs: 200 });
      assert.deepEqual(again.actions, [], 'pulled files are recognised as the applied ones');
      assert.deepEqual(await databaseSnapshot(client), snapshot);
      assert.deepEqual((await pull(client, fresh.path, 'public')).written, []);
    } finally {
      await fresh.remove();
    }
  });

  test('history lists file, checksums, who, when and phase durations', async () => {
    const h = await tandemJson<HistoryJson>(db, ['history']);
    assert.deepEqual(
      h.migrations.map((m) => [m.name, m.phase, m.baseline, m.file]),
      [
        ['0000_baseline', 'completed', true, null],
        ['0001_email', 'completed', false, '0001_email.yaml'],
        ['0002_phone', 'active', false, '0002_phone.yaml'],
      ],
    );
    const email = h.migrations[1]!;
    assert.equal(email.fileChecksum, await sha256OfFile(path.join(dir.path, '0001_email.yaml')));
    assert.ok(email.appliedBy.length > 0 && email.client !== null, 'who applied it');
    assert.ok(Date.parse(email.startedAt) > 0);
    assert.ok(email.durations.startMs !== null && email.durations.startMs >= 0);
    assert.ok(email.durations.completeMs !== null && email.durations.completeMs >= 0);
    assert.equal(h.migrations[2]!.durations.completeMs, null, 'the active one has not completed');
    const client = await db.connect();
    assert.match(describeHistory(await historyReport(client, 'public')), /0001_email\s+completed\s+file 0001_email\.yaml/);
  });
});
