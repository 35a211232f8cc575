/**
 * `tandem migrate <dir>` killed (SIGKILL) at 20 seeded points, then run again: it converges every
 * time to what an uninterrupted run leaves — the same catalog, the same data, and an exact history
 * (every file once, in order, with its file name and the sha256 of its bytes; every migration
 * completed but the last, which is active).
 *
 * Kill points are step boundaries: the runner prints a line before each action and each step, the
 * test kills it after the k-th line (k seeded over the lines of the reference run) plus a seeded
 * delay of 0–40 ms, so kills land before, inside and between steps, backfill batches included.
 *
 *   TANDEM_MIGRATE_KILL_SEED=1234 TANDEM_MIGRATE_KILL_POINTS=40 npm test -- test/sturdiness/migrate-kill.test.ts
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, test } from 'node:test';
import type pg from 'pg';
import { readMigrationDirectory } from '../../src/pipeline/directory.js';
import { migrateDirectory } from '../../src/pipeline/migrate.js';
import { seededRandom } from '../../src/util/seeded-random.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { killSpawned, sleep, spawnCli } from '../concurrency/support.js';

const SEED = process.env['TANDEM_MIGRATE_KILL_SEED'] ? Number(process.env['TANDEM_MIGRATE_KILL_SEED']) : Math.floor(Math.random() * 2 ** 31);
const POINTS = process.env['TANDEM_MIGRATE_KILL_POINTS'] ? Number(process.env['TANDEM_MIGRATE_KILL_POINTS']) : 20;
const ROWS = 1_200;
const PARALLEL = 2;

/** Five files: a table, its rows, two backfilled changes (type change, derived column), an index and a rename. */
const FILES: [string, string][] = [
  [
    '0001_accounts.yaml',
    'operations:\n  - create_table:\n      name: accounts\n      columns:\n        - { name: id, type: bigint, pk: true }\n        - { name: email, type: text }\n        - { name: score, type: text, nullable: true }\n',
  ],
  [
    '0002_seed.yaml',
    `operations:\n  - sql:\n      up: INSERT INTO accounts SELECT g, 'a' || g || '@example.org', (g % 97)::text FROM generate_series(1, ${ROWS}) g\n      down: DELETE FROM accounts\n`,
  ],
  [
    '0003_score_integer.json',
    JSON.stringify({
      operations: [
        { alter_column: { table: 'accounts', column: 'score', type: 'integer', up: 'CAST(score AS integer)', down: 'CAST(score AS text)' } },
        { add_column: { table: 'accounts', column: { name: 'plan', type: 'text', default: "'free'" } } },
      ],
    }),
  ],
  [
    '0004_email_index.yaml',
    'operations:\n  - create_index: { name: accounts_email_idx, table: accounts, columns: [{ column: email }] }\n  - rename_column: { table: accounts, from: plan, to: tier }\n',
  ],
  ['0005_handle.yaml', "operations:\n  - add_column:\n      table: accounts\n      column: { name: handle, type: text }\n      up: split_part(email, '@', 1)\n"],
];

const MIGRATE_ARGS = ['--batch-size', '100', '--batch-delay', '2', '--lock-timeout', '200', '--lock-retry-for', '20000'];
const ENGINE_OPTIONS = { batchSize: 100, batchDelayMs: 2, lockTimeoutMs: 200, lockRetryForMs: 20_000 };

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop().catch(() => undefined);
});

function writeDirectory(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-migrate-kill-'));
  for (const [name, text] of FILES) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dbs.push(db);
  return db;
}

/** Runs migrate to its end (queueing behind a killed runner's backend that still finishes its statement). */
async function migrateToEnd(dir: string, url: string): Promise<{ code: number | null; stderr: string }> {
  return spawnCli(['migrate', dir, '--wait', ...MIGRATE_ARGS], url).done;
}

/** Starts migrate and kills it after its `line`-th line on stderr (or when it ends first), then `delayMs` later. */
async function migrateKilledAt(dir: string, url: string, line: number, delayMs: number): Promise<'killed' | 'finished'> {
  const run = spawnCli(['migrate', dir, '--wait', ...MIGRATE_ARGS], url);
  let lines = 0;
  let resolveLine!: () => void;
  const reached = new Promise<void>((resolve) => (resolveLine = resolve));
  run.child.stderr!.on('data', (d: Buffer) => {
    lines += d.toString().split('\n').length - 1;
    if (lines >= line) resolveLine();
  });
  const ended = await Promise.race([reached.then(() => false), run.done.then(() => true)]);
  if (!ended) {
    await sleep(delayMs);
    run.child.kill('SIGKILL');
  }
  const r = await run.done;
  return r.signal === 'SIGKILL' ? 'killed' : 'finished';
}

interface Outcome {
  history: { name: string; phase: string; file_name: string | null; file_checksum: string | null; baseline: boolean }[];
  catalog: unknown;
  data: unknown;
}

async function outcome(client: pg.Client): Promise<Outcome> {
  const history = (await client.query(`SELECT name, phase, file_name, file_checksum, baseline FROM tandem.migrations ORDER BY id`)).rows as Outcome['history'];
  const data = (await client.query(`SELECT count(*)::int AS n, sum(score)::int AS score, count(DISTINCT tier)::int AS tiers, count(handle)::int AS handles FROM accounts`)).rows[0];
  return { history, catalog: await catalogSnapshot(client), data };
}

/** One kill point on a fresh database: the killed run, the run to the end, and the outcome compared. */
async function killAndConverge(dir: string, p: { point: number; line: number; delayMs: number }, expected: Outcome): Promise<'killed' | 'finished'> {
  const db = await freshDatabase();
  const at = `kill point ${p.point} (after line ${p.line} + ${p.delayMs} ms, seed ${SEED})`;
  const killed = await migrateKilledAt(dir, db.url, p.line, p.delayMs);
  // The run again is in this process (the CLI's code after parsing): only the killed run needs to be a child.
  const client = await db.connect();
  await migrateDirectory(client, await readMigrationDirectory(dir), { ...ENGINE_OPTIONS, wait: true }).catch((err: unknown) => {
    throw new Error(`${at}: the re-run failed: ${(err as Error).message}`);
  });
  const got = await outcome(client);
  assert.deepEqual(got.history, expected.history, `${at}: history`);
  assert.deepEqual(got.data, expected.data, `${at}: data`);
  assert.deepEqual(got.catalog, expected.catalog, `${at}: catalog`);
  await db.drop();
  dbs.splice(dbs.indexOf(db), 1);
  return killed;
}

function expectedHistory(dir: string): Outcome['history'] {
  return FILES.map(([fileName], i) => ({
    name: path.basename(fileName, path.extname(fileName)),
    phase: i === FILES.length - 1 ? 'active' : 'completed',
    file_name: fileName,
    file_checksum: createHash('sha256')
      .update(readFileSync(path.join(dir, fileName)))
      .digest('hex'),
    baseline: false,
  }));
}

test(`migrate killed at ${POINTS} seeded step boundaries converges every time (seed ${SEED})`, { timeout: 600_000 }, async () => {
  const dir = writeDirectory();
  try {
    const reference = await freshDatabase();
    const ref = await migrateToEnd(dir, reference.url);
    assert.equal(ref.code, 0, ref.stderr);
    const lines = ref.stderr.split('\n').length - 1;
    const expected = await outcome(await reference.connect());
    assert.deepEqual(expected.history, expectedHistory(dir));
    await reference.drop();
    dbs.splice(dbs.indexOf(reference), 1);

    const random = seededRandom(SEED);
    const points = Array.from({ length: POINTS }, (_, point) => ({ point, line: 1 + Math.floor(random() * lines), delayMs: Math.floor(random() * 40) }));
    const outcomes = { killed: 0, finished: 0 };
    // Two kill points at a time, each on its own database: the runs are mostly process start-up.
    for (let i = 0; i < points.length; i += PARALLEL) {
      await Promise.all(points.slice(i, i + PARALLEL).map(async (p) => (outcomes[await killAndConverge(dir, p, expected)] += 1)));
    }
    console.log(`migrate-kill: seed ${SEED}, ${POINTS} points over ${lines} output lines: ${outcomes.killed} killed mid-run, ${outcomes.finished} finished before the kill`);
    assert.ok(outcomes.killed >= POINTS / 2, 'most kill points land while migrate runs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
