/**
 * `tandem verify` and `complete`'s verify: rows written through both versions (the new one with a
 * lossy `down`) never count as mismatches, also while they are written during the verify; a row
 * written with the trigger bypassed is named by its key; complete then refuses changing nothing;
 * an `up` that fails on a row names that row.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { start } from '../../src/engine/lifecycle.js';
import { defaultExecOptions } from '../../src/exec/options.js';
import { verifyMigration, type VerifyReport } from '../../src/exec/verify.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import { inProgress } from '../../src/state/store.js';
import { Ledger, Partition, Recorder, type Row, startClient, type TrafficShape, type Version } from '../../src/traffic/workload.js';
import { runCli } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import { migrationFile, seeded } from './support.js';

let dir: string;
let file: string;
before(async () => ({ dir, file } = await migrationFile()));
after(() => rm(dir, { recursive: true, force: true }));

const ROWS = 2_000;

/** users(id, email) in both versions; the new version sees lower(email), the old one upper() of what the new one wrote. */
const shape: TrafficShape = {
  oldTable: 'users',
  newTable: 'users',
  oldColumns: [{ name: 'email', gen: (g) => `Old${g.tag}@X.io` }],
  newColumns: [{ name: 'email', gen: (g) => `New${g.tag}@Mixed.IO` }],
  toNew: (o: Row) => ({ ...o, email: typeof o['email'] === 'string' ? o['email'].toLowerCase() : null }),
  toOld: (n: Row) => ({ ...n, email: typeof n['email'] === 'string' ? n['email'].toUpperCase() : null }),
  seedRow: (id) => ({ email: `User${id}@X.io` }),
  appPrefix: 'traffic-',
};

async function traffic(db: TestDatabase, versionSchema: string) {
  const recorder = new Recorder();
  recorder.begin('verify', 4);
  const ledger = new Ledger(shape, ROWS);
  const versions: Version[] = ['old', 'old', 'new', 'new'];
  const running = await Promise.all(
    versions.map(async (version, i) => {
      const client = await db.connect(`traffic-${version}-${i}`);
      if (version === 'new') await client.query(`SET search_path TO "${versionSchema}"`);
      return startClient({ client, version, shape, partition: new Partition(i, versions.length, ROWS), ledger, recorder, thinkMs: 2, valid: true });
    }),
  );
  return {
    recorder,
    async stop() {
      await Promise.all(running.map((r) => r.stop()));
      recorder.end();
    },
  };
}

const exec = { ...defaultExecOptions, lockTimeoutMs: 1_000 };

test('both versions writing during the verify: no mismatch; a row written without the trigger is named, and complete refuses changing nothing', async () => {
  const db = await seeded(ROWS);
  try {
    const engine = await db.connect('tandem-engine');
    await start(engine, await loadMigrationFile(file));
    const row = (await inProgress(engine, 'public'))!;

    const load = await traffic(db, row.version_schema);
    let report: VerifyReport;
    try {
      await new Promise((r) => setTimeout(r, 200)); // some rows written by each version before the walk reaches them
      report = await verifyMigration(engine, row, { exec, chunkRows: 100 });
    } finally {
      await load.stop();
    }
    const phase = load.recorder.phases[0]!;
    assert.equal(phase.failed, 0, phase.errors.join('\n'));
    assert.ok((load.recorder.kinds['new update'] ?? 0) > 0 && (load.recorder.kinds['old update'] ?? 0) > 0, JSON.stringify(load.recorder.kinds));
    assert.deepEqual(report.mismatches, []);
    assert.ok(report.ok);
    assert.ok(report.rowsChecked >= ROWS);

    // Lossy on purpose: the new version's 'MiXeD@Case.IO' is not lower() of the old column's upper().
    await db.query(`SET search_path TO "${row.version_schema}"; UPDATE users SET email = 'MiXeD@Case.IO' WHERE id = 5; SET search_path TO public`);
    // Row 777's old column as the traffic left it (an old-version update may have changed it): the re-sync gives up() of it, lower(email).
    const email777 = (await db.query<{ email: string }>(`SELECT email FROM users WHERE id = 777`)).rows[0]!.email;
    await db.query(`SET session_replication_role = replica; UPDATE users SET _tandem_new_email = 'garbage' WHERE id = 777; SET session_replication_role = DEFAULT`);

    const verify = await runCli(['--database-url', db.url, '--json', 'verify']);
    assert.equal(verify.code, 1, verify.stderr);
    const doc = JSON.parse(verify.stdout) as VerifyReport;
    assert.deepEqual(
      doc.mismatches.map((m) => [m.key, m.reason, m.columns]),
      [[{ id: '777' }, 'differs', ['_tandem_new_email']]],
    );
    assert.equal(doc.mismatchCount, 1);

    const steps = () => db.query(`SELECT 1 FROM tandem.steps s JOIN tandem.migrations m ON m.id = s.migration_id WHERE s.phase = 'complete'`);
    const refused = await runCli(['--database-url', db.url, 'complete']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /users id=777/);
    assert.match(refused.stderr, /nothing was changed/);
    assert.equal((await inProgress(engine, 'public'))!.phase, 'active');
    assert.equal((await steps()).rowCount, 0, 'no complete step recorded');

    // The re-sync the report gives repairs the row.
    await db.query(doc.tables[0]!.resyncSql!);
    const repaired = await verifyMigration(engine, (await inProgress(engine, 'public'))!, { exec });
    assert.deepEqual([repaired.ok, repaired.mismatchCount], [true, 0]);

    // --no-verify skips the check: a row corrupted again is contracted as it is.
    await db.query(`SET session_replication_role = replica; UPDATE users SET _tandem_new_email = 'garbage' WHERE id = 778; SET session_replication_role = DEFAULT`);
    const skipped = await runCli(['--database-url', db.url, 'complete', '--no-verify']);
    assert.equal(skipped.code, 0, skipped.stderr);
    const done = await db.query<{ email: string }>(`SELECT email FROM users WHERE id IN (5, 777, 778) ORDER BY id`);
    assert.deepEqual(
      done.rows.map((r) => r.email),
      ['MiXeD@Case.IO', email777.toLowerCase(), 'garbage'],
    );
  } finally {
    await db.drop();
  }
});

test('an `up` that fails on a row (written without the trigger) names that row; rows not in sync are named too; a table without a key names rows by ctid', async () => {
  const db = await seeded(0);
  try {
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, qty text); INSERT INTO items SELECT g, g::text FROM generate_series(1, 500) g;
      CREATE TABLE events (n text); INSERT INTO events SELECT g::text FROM generate_series(1, 400) g`);
    const { dir: d2, file: f2 } = await migrationFile(`name: qty_int
operations:
  - alter_column: { table: items, column: qty, type: integer, up: "CAST(qty AS integer)", down: "CAST(qty AS text)" }
  - alter_column: { table: events, column: n, type: integer, up: "CAST(n AS integer)", down: "CAST(n AS text)" }
`);
    try {
      const engine = await db.connect('tandem-engine');
      await start(engine, await loadMigrationFile(f2));
      await db.query(`SET session_replication_role = replica;
        UPDATE items SET qty = 'lots' WHERE id = 321;
        INSERT INTO items (id, qty) VALUES (9001, '5');
        UPDATE events SET _tandem_new_n = -1 WHERE n = '250';
        SET session_replication_role = DEFAULT`);
      const ctid = (await db.query<{ c: string }>(`SELECT ctid::text AS c FROM events WHERE n = '250'`)).rows[0]!.c;
      const report = await verifyMigration(engine, (await inProgress(engine, 'public'))!, { exec, chunkRows: 64 });
      assert.equal(report.ok, false);
      assert.deepEqual(
        report.mismatches.map((m) => [m.table, m.key, m.reason]),
        [
          ['events', { ctid }, 'differs'],
          ['items', { id: '321' }, 'up-fails'],
          ['items', { id: '9001' }, 'not-synced'],
        ],
      );
      assert.match(report.mismatches[1]!.error ?? '', /invalid input syntax for type integer/);
      assert.equal(report.rowsChecked, 901);
    } finally {
      await rm(d2, { recursive: true, force: true });
    }
  } finally {
    await db.drop();
  }
});
