/**
 * The runner dies (kill -9) in the middle of the backfill and in the middle of complete; running
 * the same command again converges. One runner per schema: a second one fails fast naming the
 * holder, or queues with --wait.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type pg from 'pg';
import { start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { checkpoint, killSpawned, migrationPhase, RUNNER_LOCK_CLASS, runnerLockHolders, sleep, spawnCli, waitFor, writeMigrationFile } from './support.js';

const doc = (name: string) => ({
  name,
  operations: [
    { alter_column: { table: 'orders', column: 'qty', type: 'integer', up: 'CAST(qty AS integer)', down: 'CAST(qty AS text)' } },
    { alter_column: { table: 'orders', column: 'memo', nullable: false, up: "coalesce(memo, '-')" } },
    { rename_column: { table: 'orders', from: 'ref', to: 'reference' } },
  ],
});

const dbs: TestDatabase[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  killSpawned();
  for (const c of cleanups.splice(0)) await c().catch(() => undefined);
  for (const d of dbs.splice(0)) await d.drop();
});

async function setup(rows: number): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dbs.push(db);
  await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, qty text, memo text, ref text)`);
  await db.query(`INSERT INTO orders SELECT g, (g % 97)::text, CASE WHEN g % 4 = 0 THEN NULL ELSE 'm' || g END, 'r' || g FROM generate_series(1, ${rows}) g`);
  await db.query('ANALYZE orders');
  return db;
}

/** Old-version writer: updates random rows while the runner works and dies. Returns its ledger. */
function oldWriter(db: TestDatabase, rows: number): { stop: () => Promise<Map<number, { qty: string; memo: string | null }>>; errors: string[] } {
  const written = new Map<number, { qty: string; memo: string | null }>();
  const errors: string[] = [];
  let stopping = false;
  const loop = (async () => {
    const c = await db.connect('old-app');
    for (let n = 0; !stopping; n++) {
      const id = 1 + Math.floor(Math.random() * rows);
      const v = { qty: String(n % 1000), memo: n % 5 === 0 ? null : `w${n}` };
      try {
        const r = await c.query(`UPDATE orders SET qty = $2, memo = $3 WHERE id = $1`, [id, v.qty, v.memo]);
        if (r.rowCount !== 1) errors.push(`update ${id}: ${r.rowCount} rows`);
        written.set(id, v);
      } catch (err) {
        errors.push((err as Error).message);
      }
      await sleep(3);
    }
  })();
  const stop = async () => {
    stopping = true;
    await loop;
    return written;
  };
  cleanups.push(async () => void (await stop()));
  return { stop, errors };
}

function expectedRow(id: number, written: Map<number, { qty: string; memo: string | null }>) {
  const w = written.get(id);
  const qty = w ? w.qty : String(id % 97);
  const memo = w ? w.memo : id % 4 === 0 ? null : `m${id}`;
  return { qty: Number(qty), memo: memo ?? '-', reference: `r${id}` };
}

async function runnerPid(db: TestDatabase): Promise<number> {
  return waitFor('a runner to hold the lock', async () => (await runnerLockHolders(db))[0]);
}

test('kill -9 mid-backfill: the state shows a partial checkpoint; start again resumes the backfill where it stopped', { timeout: 90_000 }, async () => {
  const ROWS = 20_000;
  const db = await setup(ROWS);
  const file = writeMigrationFile('k1_orders', doc('k1_orders'));
  const writer = oldWriter(db, ROWS);

  const run = spawnCli(['start', file, '--batch-size', '50', '--batch-delay', '5'], db.url);
  const holder = await runnerPid(db);
  await waitFor('some backfill batches', async () => ((await checkpoint(db, 'orders'))?.batches ?? 0) >= 30, 30_000, 10);

  // A second runner fails fast, naming the one that holds the lock, and changes nothing.
  const t0 = performance.now();
  const second = await spawnCli(['start', file], db.url).done;
  const secondMs = performance.now() - t0;
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, /another tandem runner is working on schema "public"/);
  assert.match(second.stderr, new RegExp(`pid ${holder}\\b`));
  assert.equal(run.child.exitCode, null, 'the first runner is still at work: the second did not wait for it');
  assert.ok(secondMs < 10_000, `failed fast (${Math.round(secondMs)} ms, mostly process start-up)`);

  run.child.kill('SIGKILL');
  const killed = await run.done;
  assert.equal(killed.signal, 'SIGKILL');
  // The server drops the dead runner's session, and with it the runner lock.
  await waitFor('the dead runner to be gone', async () => (await runnerLockHolders(db)).length === 0, 10_000);

  const cp = (await checkpoint(db, 'orders'))!;
  assert.equal(await migrationPhase(db, 'k1_orders'), 'starting');
  assert.equal(cp.done, false);
  assert.ok(cp.batches >= 30 && cp.last_key !== null, `partial checkpoint: ${JSON.stringify(cp)}`);
  const lastKey = Number(cp.last_key![0]);
  assert.ok(lastKey < ROWS, `killed before the end (last key ${lastKey})`);
  // Each batch committed together with its checkpoint: every row up to the last key is filled;
  // of the rows after it, only those the application wrote (through the trigger) are.
  const up = await db.query(
    `SELECT count(*) FILTER (WHERE id <= $1 AND (_tandem_synced IS NOT TRUE OR _tandem_new_qty IS DISTINCT FROM qty::integer OR _tandem_new_memo IS DISTINCT FROM coalesce(memo, '-')))::int AS bad_before,
            count(*) FILTER (WHERE id > $1 AND _tandem_synced)::int AS synced_after
       FROM orders`,
    [lastKey],
  );
  assert.equal(up.rows[0].bad_before, 0, 'rows up to the checkpoint are backfilled');
  assert.ok(up.rows[0].synced_after < (ROWS - lastKey) / 2, `rows after the checkpoint are mostly not backfilled yet (${up.rows[0].synced_after})`);
  const remaining = (await db.query(`SELECT count(*)::int AS n FROM orders WHERE id > $1`, [lastKey])).rows[0].n;

  const status = await spawnCli(['status', '--json'], db.url).done;
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  assert.equal(s.inProgress.phase, 'starting');
  assert.deepEqual(
    s.inProgress.backfill.map((b: { table: string; batches: number; done: boolean }) => [b.table, b.batches, b.done]),
    [['orders', cp.batches, false]],
  );

  // Start again (--wait: in case the server has not yet noticed the dead session).
  const again = await spawnCli(['start', file, '--batch-size', '1000', '--wait'], db.url).done;
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr + again.stdout, /resuming start of k1_orders/);
  const after = (await checkpoint(db, 'orders'))!;
  assert.equal(after.done, true);
  // Resumed from the checkpoint, not from the first key: exactly the batches for the rest.
  assert.equal(after.batches, cp.batches + Math.ceil(remaining / 1000), `batches ${cp.batches} + rest of ${remaining} rows by 1000`);
  assert.ok(after.rows_done >= cp.rows_done);
  assert.equal(await migrationPhase(db, 'k1_orders'), 'active');

  const written = await writer.stop();
  assert.deepEqual(writer.errors, []);
  const wrong = await db.query(
    `SELECT count(*)::int AS n FROM orders WHERE _tandem_synced IS NOT TRUE OR _tandem_new_qty IS DISTINCT FROM qty::integer OR _tandem_new_memo IS DISTINCT FROM coalesce(memo, '-')`,
  );
  assert.equal(wrong.rows[0].n, 0, 'every row is backfilled with up(old)');
  // The application's writes survived the crash and the resume.
  const view = (await db.query(`SELECT id::int AS id, qty, memo, reference FROM public_k1_orders.orders`)).rows;
  assert.equal(view.length, ROWS);
  const bad = view.filter((r) => JSON.stringify({ qty: r.qty, memo: r.memo, reference: r.reference }) !== JSON.stringify(expectedRow(r.id, written)));
  assert.deepEqual(bad.slice(0, 3), []);
  console.log(
    `# crash mid-backfill: killed after ${cp.batches} batches (last key ${lastKey}); resumed with ${after.batches - cp.batches} batches; ${written.size} rows written by the app; second runner refused in ${Math.round(secondMs)} ms`,
  );
});

test('kill -9 while complete waits for a lock: phase stays completing; complete again converges to the final shape', { timeout: 90_000 }, async () => {
  const ROWS = 3_000;
  const db = await setup(ROWS);
  const file = writeMigrationFile('k2_orders', doc('k2_orders'));
  const runner = await db.connect('tandem-api');
  await start(runner, parseMigration(doc('k2_orders'), file), { batchSize: 1000 });
  const writer = oldWriter(db, ROWS);

  // A reporting transaction that read the table: complete's contract step (ACCESS EXCLUSIVE)
  // keeps timing out and retrying behind it.
  const blocker = await db.connect('report');
  await blocker.query('BEGIN');
  await blocker.query('SELECT count(*) FROM orders');
  // Stop the old version before contracting, as a deploy would.
  const written = await writer.stop();
  assert.deepEqual(writer.errors, []);

  const run = spawnCli(['complete', '--lock-timeout', '50', '--lock-retry-for', '60000'], db.url);
  await waitFor(
    'complete to retry its contract step',
    async () =>
      (
        await db
          .query(`SELECT count(*)::int AS n FROM tandem.audit_log WHERE phase = 'complete' AND step_id = 'contract' AND outcome = 'lock_timeout'`)
          .catch(() => ({ rows: [{ n: 0 }] }))
      ).rows[0].n >= 2,
    20_000,
  );
  run.child.kill('SIGKILL');
  assert.equal((await run.done).signal, 'SIGKILL');
  await waitFor('the dead runner to be gone', async () => (await runnerLockHolders(db)).length === 0, 10_000);

  assert.equal(await migrationPhase(db, 'k2_orders'), 'completing');
  const steps = (
    await db.query(`SELECT step_id FROM tandem.steps s JOIN tandem.migrations m ON m.id = s.migration_id WHERE m.name = 'k2_orders' AND s.phase = 'complete' ORDER BY step_index`)
  ).rows.map((r) => r.step_id);
  assert.ok(!steps.includes('contract'), `contract not done: ${steps.join(', ')}`);
  // It died mid-phase: the steps before the contract (checking the backfill, validating the NOT NULL check) are done.
  const planned = (await db.query(`SELECT plan FROM tandem.migrations WHERE name = 'k2_orders'`)).rows[0].plan.complete.map((st: { id: string }) => st.id);
  assert.ok(planned.indexOf('contract') > 0, `plan: ${planned.join(', ')}`);
  assert.deepEqual(steps, planned.slice(0, planned.indexOf('contract')));
  // The old columns are all still there: nothing of the contract step was applied.
  const cols = async () =>
    (await db.query(`SELECT attname FROM pg_attribute WHERE attrelid = 'public.orders'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attname`)).rows.map((r) => r.attname);
  assert.deepEqual(await cols(), ['_tandem_new_memo', '_tandem_new_qty', '_tandem_synced', 'id', 'memo', 'qty', 'ref']);
  // Nothing is removed before the contract step (one transaction): complete again or rollback (test/sturdiness).
  const st = await spawnCli(['status', '--json'], db.url).done;
  assert.deepEqual(JSON.parse(st.stdout).inProgress.next, ['complete', 'rollback']);

  // The new version keeps working meanwhile (it only needs ACCESS SHARE, as the blocker has).
  const app = await db.connect('new-app');
  await app.query('SET search_path TO public_k2_orders');
  await app.query(`UPDATE orders SET qty = 4242, memo = 'new' WHERE id = 1`);
  written.set(1, { qty: '4242', memo: 'new' });

  await blocker.query('COMMIT');
  const again = await spawnCli(['complete', '--wait', '--lock-timeout', '50'], db.url).done;
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr + again.stdout, /resuming complete of k2_orders/);
  assert.equal(await migrationPhase(db, 'k2_orders'), 'completed');
  assert.deepEqual(await cols(), ['id', 'memo', 'qty', 'reference']);
  const types = (
    await db.query(
      `SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull FROM pg_attribute WHERE attrelid = 'public.orders'::regclass AND attname IN ('qty', 'memo') ORDER BY attname`,
    )
  ).rows;
  assert.deepEqual(types, [
    { attname: 'memo', type: 'text', attnotnull: true },
    { attname: 'qty', type: 'integer', attnotnull: false },
  ]);
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'public.orders'::regclass AND contype = 'c'`)).rows[0].n, 0);
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'public.orders'::regclass AND NOT tgisinternal`)).rows[0].n, 0);
  const rows = (await db.query(`SELECT id::int AS id, qty, memo, reference FROM orders`)).rows;
  assert.equal(rows.length, ROWS);
  const bad = rows.filter((r) => JSON.stringify({ qty: r.qty, memo: r.memo, reference: r.reference }) !== JSON.stringify(expectedRow(r.id, written)));
  assert.deepEqual(bad.slice(0, 3), []);
  // The new version's schema still serves the final shape.
  assert.deepEqual((await app.query(`SELECT qty, memo, reference FROM orders WHERE id = 1`)).rows, [{ qty: 4242, memo: 'new', reference: 'r1' }]);
});

test('one runner per schema: a second fails fast naming the holder; with --wait it queues until the lock is free', { timeout: 90_000 }, async () => {
  const db = await setup(500);
  const file = writeMigrationFile('k3_orders', doc('k3_orders'));
  // A runner on another database of the same server holds the same lock key (its own "public"):
  // it neither blocks this database nor is named as the holder here (pg_locks spans the cluster).
  const elsewhere = await createTestDatabase();
  dbs.push(elsewhere);
  const otherRunner = await elsewhere.connect('other-db-runner');
  await otherRunner.query(`SELECT pg_advisory_lock($1, hashtext('tandem:public'))`, [RUNNER_LOCK_CLASS]);
  const holder: pg.Client = await db.connect('deploy-bot');
  await holder.query(`SELECT pg_advisory_lock($1, hashtext('tandem:public'))`, [RUNNER_LOCK_CLASS]);
  const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;

  const busy = await spawnCli(['start', file], db.url).done;
  assert.equal(busy.code, 1, busy.stderr);
  assert.match(busy.stderr, new RegExp(`another tandem runner is working on schema "public" \\(pid ${holderPid}, user \\w+, application "deploy-bot"`));
  assert.match(busy.stderr, /--wait/);
  assert.doesNotMatch(busy.stderr, /other-db-runner/);
  // The runner lock is taken before anything else: the state schema is not even created.
  assert.equal((await db.query(`SELECT to_regclass('tandem.migrations') AS t`)).rows[0].t, null, 'nothing was recorded');
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'public.orders'::regclass AND attname LIKE '_tandem%'`)).rows[0].n, 0);

  // Another schema is not affected by this schema's runner lock.
  await db.query('CREATE SCHEMA other');
  await db.query('CREATE TABLE other.orders (id bigint PRIMARY KEY, qty text, memo text, ref text)');
  const other = await spawnCli(['start', file, '--schema', 'other'], db.url).done;
  assert.equal(other.code, 0, other.stderr);

  const queued = spawnCli(['start', file, '--wait'], db.url);
  const waiting = await waitFor(
    'the queued runner to wait on the advisory lock',
    async () =>
      (
        await db.query(
          // --wait polls pg_try_advisory_lock (a blocked pg_advisory_lock would hold a snapshot that the holder's CONCURRENTLY builds wait for).
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tandem' AND query LIKE '%pg_try_advisory_lock%'`,
        )
      ).rows[0]?.pid as number | undefined,
    15_000,
  );
  assert.ok(waiting > 0);
  await sleep(500);
  assert.equal(queued.child.exitCode, null, 'still queued while the lock is held');
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM tandem.migrations WHERE schema_name = 'public'`)).rows[0].n, 0);

  const releasedAt = Date.now();
  await holder.query(`SELECT pg_advisory_unlock($1, hashtext('tandem:public'))`, [RUNNER_LOCK_CLASS]);
  const done = await queued.done;
  assert.equal(done.code, 0, done.stderr);
  assert.ok(done.exitedAt >= releasedAt);
  assert.equal(await migrationPhase(db, 'k3_orders'), 'active');
});

test('kill -9 during CREATE INDEX CONCURRENTLY: the invalid leftover is dropped and the index rebuilt when start runs again', { timeout: 90_000 }, async () => {
  const db = await setup(2_000);
  const file = writeMigrationFile('k4_orders_idx', {
    name: 'k4_orders_idx',
    operations: [{ create_index: { name: 'orders_qty_idx', table: 'orders', columns: [{ column: 'qty' }] } }],
  });
  // An open writing transaction: the concurrent build registers its (invalid) index, then waits for it.
  const writer = await db.connect('slow-writer');
  await writer.query('BEGIN');
  await writer.query(`UPDATE orders SET memo = 'x' WHERE id = 1`);

  const run = spawnCli(['start', file, '--lock-retry-for', '30000'], db.url);
  const building = await waitFor(
    'the concurrent build to wait for the writer',
    async () =>
      (await db.query(`SELECT pid, phase FROM pg_stat_progress_create_index WHERE relid = 'public.orders'::regclass AND phase LIKE 'waiting for writers%'`)).rows[0] as
        { pid: number; phase: string } | undefined,
    20_000,
  );
  run.child.kill('SIGKILL');
  assert.equal((await run.done).signal, 'SIGKILL');
  // The orphaned session would wait for the writer; the server (or an operator) ends it.
  await db.query('SELECT pg_terminate_backend($1)', [building.pid]);
  await waitFor('the dead runner to be gone', async () => (await runnerLockHolders(db)).length === 0, 10_000);

  const index = async () =>
    (
      await db.query(
        `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.orders'::regclass AND c.relname LIKE 'orders_qty%'`,
      )
    ).rows;
  assert.deepEqual(await index(), [{ relname: 'orders_qty_idx', indisvalid: false }], 'an invalid leftover of the killed build');
  assert.equal(await migrationPhase(db, 'k4_orders_idx'), 'starting');

  await writer.query('COMMIT');
  const again = await spawnCli(['start', file, '--wait'], db.url).done;
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await index(), [{ relname: 'orders_qty_idx', indisvalid: true }]);
  assert.equal(await migrationPhase(db, 'k4_orders_idx'), 'active');
  const complete = await spawnCli(['complete'], db.url).done;
  assert.equal(complete.code, 0, complete.stderr);
  assert.deepEqual(await index(), [{ relname: 'orders_qty_idx', indisvalid: true }]);
});
