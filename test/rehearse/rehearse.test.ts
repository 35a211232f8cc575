/**
 * `tandem rehearse <file>` on a real database: the live schema copied (no rows) into a scratch
 * database on the test server (`--scratch-url`), filled with synthetic rows at the live counts
 * following pg_stats (keys distinct, foreign keys pointing at parent rows, CHECKs respected), the
 * migration run there under traffic of both versions through start → complete and, on a second
 * copy, start → rollback; every step timed with its lock; the clients' latency reported. The
 * live database is only read: its catalog, rows, sequences and state schema are unchanged,
 * and no scratch database is left behind.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { RehearseReport } from '../../src/rehearse/run.js';
import { initStateSchema } from '../../src/state/store.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/db.js';

const SETUP = `
  CREATE TYPE tier AS ENUM ('free', 'pro', 'team');
  CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, score text NOT NULL DEFAULT '0', tier tier NOT NULL DEFAULT 'free');
  INSERT INTO users (email, score, tier) SELECT 'u' || g || '@x.org', (g % 50)::text, (ARRAY['free','pro','team']::tier[])[1 + g % 3] FROM generate_series(1, 3000) g;
  CREATE TABLE orders (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id), amount numeric(10,2) NOT NULL CHECK (amount > 0), note text);
  INSERT INTO orders (user_id, amount, note) SELECT 1 + g % 3000, 1 + (g % 500), CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 4000) g;
  CREATE INDEX orders_user_idx ON orders (user_id);
  ANALYZE users; ANALYZE orders;`;

const MIGRATION = `operations:
  - alter_column: { table: users, column: score, type: integer, up: "CAST(score AS integer)", down: "CAST(score AS text)" }
  - create_index: { name: orders_amount_idx, table: orders, columns: [amount] }
`;

async function liveState(client: pg.Client) {
  return {
    catalog: await catalogSnapshot(client),
    tandemCatalog: await catalogSnapshot(client, 'tandem'),
    tandemRows: (await client.query(`SELECT (SELECT count(*) FROM tandem.migrations)::int AS migrations, (SELECT count(*) FROM tandem.audit_log)::int AS audit`)).rows[0],
    rows: (await client.query(`SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM orders)::int AS orders, (SELECT sum(id) FROM users)::text AS ids`)).rows[0],
    sequence: (await client.query(`SELECT last_value::text FROM users_id_seq`)).rows[0],
  };
}

describe('tandem rehearse', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let dir: string;
  before(async () => {
    db = await createTestDatabase();
    client = await db.connect();
    await client.query(SETUP);
    // The live database has a state schema (as after `tandem init`): the rehearsal must not touch it either.
    await initStateSchema(client);
    dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-rehearse-'));
  });
  after(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('start → complete and start → rollback on a synthetic copy under traffic; the live database only read', { timeout: 60_000 }, async () => {
    const file = path.join(dir, '0001_score.yaml');
    await writeFile(file, MIGRATION);
    const before = await liveState(client);
    const r = await runCli(['rehearse', file, '--json', '--scratch-url', adminUrl(), '--clients', '1', '--both-versions-ms', '300'], { TANDEM_DATABASE_URL: db.url });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = JSON.parse(r.stdout) as RehearseReport;

    // The copy: the live row counts, the live tables.
    const copied = Object.fromEntries(report.copy.tables.map((t) => [t.table, t]));
    assert.equal(copied['users']!.rows, 3000);
    assert.equal(copied['orders']!.rows, 4000, JSON.stringify(copied['orders']));
    assert.deepEqual(report.copy.notes, [], 'every key, check, foreign key and index was recreated');

    const [done, undone] = report.runs;
    assert.equal(done!.name, 'start-complete');
    assert.equal(undone!.name, 'start-rollback');
    for (const run of report.runs) {
      assert.equal(run.error, null);
      assert.equal(run.traffic.failedStatements, 0, run.traffic.errors.join('\n'));
      assert.ok(run.traffic.statements > 0 && run.traffic.clients.old === 1 && run.traffic.clients.new === 1, JSON.stringify(run.traffic.clients));
      assert.ok(run.traffic.latencyMs.max >= run.traffic.latencyMs.p99 && run.traffic.latencyMs.p99 >= run.traffic.latencyMs.p50);
    }
    assert.deepEqual(
      done!.phases.map((p) => p.phase),
      ['start', 'complete'],
    );
    assert.deepEqual(
      undone!.phases.map((p) => p.phase),
      ['start', 'rollback'],
    );
    const start = done!.phases[0]!;
    const backfill = start.steps.find((s) => s.id.startsWith('backfill'))!;
    assert.equal(backfill.lock, 'ROW EXCLUSIVE');
    assert.equal(backfill.rowsTouched, 3000);
    assert.ok(backfill.seconds > 0, 'the backfill was timed');
    const expand = start.steps.find((s) => s.id.startsWith('expand'))!;
    assert.equal(expand.lock, 'ACCESS EXCLUSIVE');
    assert.ok(expand.heldMs !== null && expand.heldMs >= 0, 'the audit log gives how long the expand held its lock');
    const index = start.steps.find((s) => s.description.includes('orders_amount_idx'))!;
    assert.equal(index.lock, 'SHARE UPDATE EXCLUSIVE');
    assert.ok(start.steps.reduce((t, s) => t + s.seconds, 0) <= start.seconds + 0.05);

    // Nothing changed on the live side, and no scratch database is left on the scratch server.
    assert.deepEqual(await liveState(client), before);
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    const left = await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE 'tandem\\_rehearse\\_%'`);
    await admin.end();
    assert.deepEqual(left.rows, []);
  });

  test('a bad file: exit 2, nothing created anywhere', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'operations:\n  - alter_column: { table: nope, column: x, type: integer, up: "x", down: "x" }\n');
    const before = await liveState(client);
    const r = await runCli(['rehearse', file, '--scratch-url', adminUrl()], { TANDEM_DATABASE_URL: db.url });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /nope/);
    assert.doesNotMatch(r.stderr, /filling/, 'refused before any copy was made');
    assert.deepEqual(await liveState(client), before);
  });
});
