/**
 * `tandem plan <file|dir>` with estimates, on a real database: per step its lock, the rows it
 * touches (live statistics) and an estimated duration from a calibration on this server, totals
 * per phase, `--json`, `--no-estimate`, directories — and that it changes nothing at all (the
 * calibration's copies are rolled back; no sequence advances; no state schema appears), also for
 * an owner without CREATE on the schema (the copy is then a TEMP table).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import type { PlanEstimate } from '../../src/estimate/estimator.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const SETUP = `
  CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, score text NOT NULL DEFAULT '0', email text);
  INSERT INTO users (name, score, email) SELECT 'user' || g, (g % 100)::text, CASE WHEN g % 4 = 0 THEN NULL ELSE 'u' || g || '@x.org' END FROM generate_series(1, 5000) g;
  CREATE INDEX users_email_idx ON users (email);
  ANALYZE users;`;

const MIGRATION = `operations:
  - alter_column: { table: users, column: score, type: integer, up: "CAST(score AS integer)", down: "CAST(score AS text)" }
  - alter_column: { table: users, column: email, nullable: false, up: "coalesce(email, 'none')" }
  - create_index: { name: users_name_idx, table: users, columns: [name] }
`;

interface PlanJson {
  start: unknown[];
  estimate: PlanEstimate;
  calibration: { copies: string; tables: { table: string; sampleRows: number }[] } | null;
}

/** What must not change: the catalog of the schema, the schemas, the sequence, the absence of a state schema. */
async function untouched(client: pg.Client) {
  return {
    catalog: await catalogSnapshot(client),
    sequence: (await client.query(`SELECT last_value::text, is_called FROM users_id_seq`)).rows,
    tandem: (await client.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'tandem'`)).rows[0],
    rows: (await client.query(`SELECT count(*)::int AS n FROM users`)).rows[0],
  };
}

describe('tandem plan with estimates', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let dir: string;
  let file: string;
  before(async () => {
    db = await createTestDatabase();
    client = await db.connect();
    await client.query(SETUP);
    dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-estimate-'));
    file = path.join(dir, '0001_users.yaml');
    await writeFile(file, MIGRATION);
  });
  after(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('per step: lock, rows from the live statistics, an estimated duration and its basis; totals; --json; nothing changed', async () => {
    const before = await untouched(client);
    const [r, j] = await Promise.all([runCli(['plan', file], { TANDEM_DATABASE_URL: db.url }), runCli(['plan', file, '--json'], { TANDEM_DATABASE_URL: db.url })]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^start:\n {2}1\. expand users/m, 'the plan itself is printed as before');
    assert.match(r.stdout, /^estimates \(PostgreSQL [\d.]+.*rates measured on this server/m);
    assert.match(r.stdout, /backfill users: ROW EXCLUSIVE per batch, 5,000 rows, ~[\d.]+ m?s\n {9}5,000 rows × [\d.]+ µs\/row/);
    assert.match(r.stdout, /create index users_name_idx concurrently: SHARE UPDATE EXCLUSIVE, 5,000 rows, ~[\d.]+ m?s/);
    assert.match(r.stdout, /expand users: ACCESS EXCLUSIVE, 0 rows, ~[\d.]+ ms\n {9}instant DDL/);
    assert.match(r.stdout, /^ {2}start: ~[\d.]+ m?s in all$/m);

    // --json: the plan document as before, with the estimate under `estimate`.
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout) as PlanJson;
    assert.ok(Array.isArray(doc.start) && doc.start.length > 0);
    const backfill = doc.estimate.start.steps.find((s) => s.id.startsWith('backfill'))!;
    assert.equal(backfill.lock, 'ROW EXCLUSIVE');
    assert.equal(backfill.rowsTouched, 5_000);
    assert.ok(backfill.estimatedSeconds! > 0 && backfill.estimatedSeconds! < 60, `backfill estimate ${backfill.estimatedSeconds}`);
    const total = doc.estimate.start.steps.reduce((t, s) => t + (s.estimatedSeconds ?? 0), 0);
    assert.ok(Math.abs(doc.estimate.start.totalSeconds! - total) < 1e-6);
    assert.equal(doc.calibration!.copies, 'schema');
    assert.equal(doc.calibration!.tables[0]!.table, 'users');
    assert.ok(doc.estimate.complete.steps.some((s) => s.lock === 'SHARE UPDATE EXCLUSIVE' && s.rowsTouched === 5_000 && s.estimatedSeconds !== null));
    assert.deepEqual(await untouched(client), before, 'plan changed the database');
  });

  test('--no-estimate: locks and rows, no calibration and no durations', async () => {
    const r = await runCli(['plan', file, '--json', '--no-estimate'], { TANDEM_DATABASE_URL: db.url });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as PlanJson;
    assert.equal(doc.calibration, null);
    assert.equal(doc.estimate.calibrated, false);
    assert.ok(doc.estimate.start.steps.every((s) => s.estimatedSeconds === null));
    assert.equal(doc.estimate.start.steps.find((s) => s.id.startsWith('backfill'))!.rowsTouched, 5_000);
  });

  test('a directory: pending files in order; one that needs an earlier one is reported, not failed', async () => {
    const d = path.join(dir, 'migrations');
    await rm(d, { recursive: true, force: true });
    await mkdir(d);
    await writeFile(path.join(d, '0001_nick.yaml'), 'operations:\n  - add_column: { table: users, column: { name: nick, type: text, nullable: true } }\n');
    await writeFile(path.join(d, '0002_nick_len.yaml'), 'operations:\n  - alter_column: { table: users, column: nick, type: varchar(40), up: "nick", down: "nick" }\n');
    const [r, human] = await Promise.all([
      runCli(['plan', d, '--json', '--no-estimate'], { TANDEM_DATABASE_URL: db.url }),
      runCli(['plan', d, '--no-estimate'], { TANDEM_DATABASE_URL: db.url }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { migrations: { file: string; pending: boolean; planned: boolean; reason?: string; estimate?: PlanEstimate }[] };
    assert.equal(doc.migrations[0]!.estimate!.start.steps[0]!.lock, 'ACCESS EXCLUSIVE');
    assert.deepEqual(
      doc.migrations.map((m) => [m.file, m.pending, m.planned]),
      [
        ['0001_nick.yaml', true, true],
        ['0002_nick_len.yaml', true, false],
      ],
    );
    assert.match(doc.migrations[1]!.reason!, /0001_nick\.yaml.*tandem rehearse/);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /2 migration files, 2 pending/);
    assert.match(human.stdout, /== 0002_nick_len\.yaml \(0002_nick_len\): not planned/);
  });

  test('an owner without CREATE on the schema: calibrated on a TEMP copy; still changes nothing', async () => {
    const role = `${db.name}_owner`;
    const password = `pw_${db.name}`;
    await client.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}'`);
    try {
      await client.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC; ALTER TABLE users OWNER TO ${role}; GRANT USAGE ON SCHEMA public TO ${role}`);
      const before = await untouched(client);
      const url = new URL(db.url);
      url.username = role;
      url.password = password;
      const r = await runCli(['plan', file, '--json'], { TANDEM_DATABASE_URL: url.toString() });
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as PlanJson;
      assert.equal(doc.calibration!.copies, 'temp');
      assert.ok(doc.estimate.start.steps.find((s) => s.id.startsWith('backfill'))!.estimatedSeconds! > 0);
      assert.deepEqual(await untouched(client), before);
    } finally {
      await client.query(`ALTER TABLE users OWNER TO CURRENT_USER; DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});
