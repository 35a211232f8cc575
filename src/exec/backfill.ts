import type pg from 'pg';
import { ExecutionError } from '../errors.js';
import { DIRECT_WRITER_VERSION } from '../plan/trigger.js';
import type { BackfillStep } from '../plan/types.js';
import { qualified } from '../sql/ident.js';
import { runTriggerBackfill, stillUnsynced, verifyInSync, countUnsynced } from './backfill-legacy.js';
import { openSibling } from './backfill-connect.js';
import { allSlicesDone, claimSlice, ensureSlices, releaseSlice, type Slice, sliceCount } from './backfill-slices.js';
import { type BatchArgs, batchTransaction, type BatchResult, ctidBatchSql, isSetBased, keyedSql, type KeyedSql, type SetBasedStep } from './backfill-sql.js';
import { type BatchPacing, openBackfillThrottle } from './backfill-throttle.js';
import { VacuumBehind } from './backfill-vacuum.js';
import type { RunContext } from './executor.js';
import { isRetryable, retryOnLockConflict, sleep } from './lock-retry.js';
import { BatchMode, PLAIN_LOCK_TIMEOUT_MS } from './backfill-mode.js';

/**
 * Fill the shadow columns of existing rows in short keyset batches, each its own transaction
 * that also advances the checkpoint, so a killed backfill resumes after its last committed batch.
 *
 * Set-based: each batch computes the new columns in its own SQL, from the migration's `up`
 * composed over the table's stages (src/plan/compose-up.ts, stored in the plan), and writes them
 * with the marker in one UPDATE. While the backfill runs the sync trigger watches every column
 * but those (src/plan/trigger.ts createTriggerSql), so no PL/pgSQL runs for its writes; its
 * transactions also say `SET LOCAL tandem.version = '__tandem_backfill_direct'`, which the WHEN
 * clause of triggers in plans stored by earlier versions skips on. A batch is one UPDATE of the
 * next keys' range, or, after it had to wait for a row an application holds, a statement that
 * locks first and skips held rows (backfill-mode.ts). Batch, checkpoint and skipped keys are one
 * statement, one round trip (src/exec/backfill-sql.ts). A plan stored without a composed `up` (a migration started by an
 * older tandem) is backfilled through the trigger, as before (backfill-legacy.ts).
 *
 * The invariant the backfill establishes, and that `complete` checks again, is read from the
 * database, never from this process's memory: every write sets the marker column (the trigger,
 * or the backfill itself), so "no row has marker IS NOT TRUE" means every row is in sync. Rows
 * written by live traffic are never redone; rows locked by application transactions are skipped
 * (SKIP LOCKED) and their keys stored in `tandem.backfill_skipped` in the same statement, then
 * revisited; a final sweep over the marker, repeated until it finds none, ends the backfill.
 *
 * With `workers` > 1 the key space is split into slices (backfill-slices.ts), each worker on its
 * own connection claiming one slice at a time; `tandem backfill run` joins from another process.
 * The revisit and the sweep run once, by the runner, after every slice is done.
 *
 * `verifyOnly` steps (complete's first step) only check the invariant and change nothing.
 */
export async function runBackfill(ctx: RunContext, step: BackfillStep): Promise<void> {
  if (step.verifyOnly) return verifyInSync(ctx, step);
  if (!isSetBased(step)) return runTriggerBackfill(ctx, step);
  if (step.keyColumns.length === 0) return runCtidBackfill(ctx, step);
  await runSlices(ctx, step, workersOf(ctx));
  await finishKeyed(ctx, step);
}

/**
 * The number of workers this process runs (at least one): --workers, else one. One is the safe
 * default: it leaves the application its throughput (bench:zdt on 2 cores: 0.79–0.83× of the
 * baseline during the backfill with one worker, 0.52–0.59× with two), at about 0.7× of one UPDATE
 * statement; two workers reach 0.9–1.0× where the server has cores to spare (bench:backfill).
 */
function workersOf(ctx: RunContext): number {
  return Math.max(1, Math.trunc(ctx.options.workers ?? 1));
}

/**
 * The batch size the throttle asks for, at most --batch-size unless an adaptive target was asked
 * for (--target-batch-ms): the throttle then sizes batches freely; otherwise it only shrinks them
 * when it backs off, and --batch-size keeps meaning what it always meant.
 */
function batchLimit(pacing: BatchPacing, ctx: RunContext): number {
  const size = Math.max(1, Math.trunc(pacing.batchSize));
  return ctx.options.targetBatchMs !== undefined ? size : Math.min(size, Math.max(1, ctx.options.batchSize));
}

/** Rows this process has brought in sync, for the progress line. */
interface Progress {
  rows: number;
}

/**
 * The main pass: `workers` workers (the first on the runner's own connection, the others on
 * connections of their own) claim and work slices until every slice is done, by them or by
 * workers of other processes. A worker that finds nothing to claim while slices are still being
 * worked waits and tries again: a slice whose worker died is claimable again.
 */
export async function runSlices(ctx: RunContext, step: SetBasedStep, workers: number): Promise<void> {
  await ensureSlices(ctx.client, ctx.migrationId, step, sliceCount(workers, step.estimatedRows));
  const progress: Progress = { rows: await rowsDone(ctx.client, ctx.migrationId, step.table) };
  const sql = keyedSql(step);
  const vacuum = await VacuumBehind.open(ctx, step);
  const extra: pg.Client[] = [];
  try {
    for (let i = 1; i < workers; i++) extra.push(await openSibling(ctx.client, `tandem-backfill pid ${process.pid}`));
    const clients = [ctx.client, ...extra];
    // A worker that fails stops the others at their next batch; once all have stopped (their
    // connections are closed only then), the first error is the run's.
    const stop = { failed: false };
    const outcomes = await Promise.allSettled(
      clients.map((client) =>
        runWorker(ctx, client, step, sql, progress, vacuum, stop).catch((err: unknown) => {
          stop.failed = true;
          throw err;
        }),
      ),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    await vacuum.close();
    await Promise.all(extra.map((c) => c.end().catch(() => undefined)));
  }
}

async function runWorker(
  ctx: RunContext,
  client: pg.Client,
  step: SetBasedStep,
  sql: KeyedSql,
  progress: Progress,
  vacuum: VacuumBehind,
  stop: { failed: boolean },
): Promise<void> {
  for (let idle = 0; !stop.failed;) {
    const slice = await claimSlice(client, ctx.migrationId, step.table);
    if (!slice) {
      if (await allSlicesDone(client, ctx.migrationId, step.table)) return;
      await sleep(Math.min(1_000, 100 + 50 * idle++));
      continue;
    }
    idle = 0;
    try {
      await passSlice(ctx, client, step, sql, slice, progress, vacuum, stop);
    } finally {
      await releaseSlice(client, ctx.migrationId, step.table, slice.slice);
    }
  }
}

/** One slice, from its checkpoint to its end, one batch per round trip, paced by the throttle. */
async function passSlice(
  ctx: RunContext,
  client: pg.Client,
  step: SetBasedStep,
  sql: KeyedSql,
  slice: Slice,
  progress: Progress,
  vacuum: VacuumBehind,
  stop: { failed: boolean },
): Promise<void> {
  const throttle = await openBackfillThrottle({
    client,
    migrationId: ctx.migrationId,
    schema: step.schema,
    table: step.table,
    slice: slice.slice,
    options: ctx.options,
    reporter: ctx.reporter,
  });
  try {
    let after = slice.last_key ?? slice.range_start;
    const mode = new BatchMode();
    while (!stop.failed) {
      const batchSize = batchLimit(await throttle.beforeBatch(), ctx);
      const t0 = performance.now();
      const r = await runBatch(client, ctx, sql, mode, { migrationId: ctx.migrationId, slice: slice.slice, limit: batchSize, after, upTo: slice.range_end });
      throttle.afterBatch({ rows: r.seen, durationMs: performance.now() - t0 });
      progress.rows += r.updated;
      ctx.reporter.backfillProgress(step.table, progress.rows, step.estimatedRows, false);
      vacuum.afterBatch(r.updated);
      // A short batch reached the end of the slice (the statement marked it done): rows inserted
      // since are written through the trigger, in sync already.
      if (r.seen < batchSize) return;
      after = r.last_key;
    }
  } finally {
    await throttle.close();
  }
}

/**
 * After the main pass: revisit the stored skipped keys, then sweep the whole key range over the
 * marker; repeat until a sweep finds no row out of sync. Rows behind the sweep cannot fall out of
 * sync again (every write sets the marker), so a sweep that finds none proves the invariant.
 */
async function finishKeyed(ctx: RunContext, step: SetBasedStep): Promise<void> {
  const sql = keyedSql(step);
  const progress: Progress = { rows: await rowsDone(ctx.client, ctx.migrationId, step.table) };
  for (let sweeps = 0; ; sweeps++) {
    await revisitSkipped(ctx, step, sql, progress);
    // One sequential scan answers "is any row out of sync?" far quicker than a walk of the key;
    // the walk (which also fixes what it finds) runs only when the answer is yes.
    if ((await countUnsynced(ctx, step, 1)) === 0) break;
    if ((await sweepOnce(ctx, sql, progress)) === 0) break;
    if (sweeps > 1_000) throw stillUnsynced(step, 'rows kept falling out of sync (written without the sync trigger?)');
  }
  ctx.reporter.backfillProgress(step.table, progress.rows, step.estimatedRows, true);
}

interface RevisitResult {
  pending: number;
  updated: number;
  still: number;
  last_key: string[] | null;
}

/** Retry the stored keys until none is left: rows an application transaction still holds are waited for, with backoff. */
async function revisitSkipped(ctx: RunContext, step: SetBasedStep, sql: KeyedSql, progress: Progress): Promise<void> {
  const chunk = Math.max(100, ctx.options.batchSize);
  for (let round = 0; ; round++) {
    let still = 0;
    let after: string[] | null = null;
    for (;;) {
      const r: RevisitResult = await runStatement<RevisitResult>(ctx.client, ctx, sql.revisit({ migrationId: ctx.migrationId, limit: chunk, after }));
      if (r.pending === 0) break;
      still += r.still;
      progress.rows += r.updated;
      after = r.last_key;
    }
    if (still === 0) return;
    if (round === 3) ctx.reporter.info(`backfill ${step.table}: ${still} rows are held by other transactions; waiting for them`);
    if (round > 10_000) throw stillUnsynced(step, `${still} rows stayed locked by other transactions`);
    await sleep(Math.min(1000, 20 * 2 ** Math.min(round, 6)));
  }
}

/** One sweep over the whole key range; returns how many rows not in sync it found. */
async function sweepOnce(ctx: RunContext, sql: KeyedSql, progress: Progress): Promise<number> {
  const limit = Math.max(1_000, ctx.options.batchSize);
  let after: string[] | null = null;
  let found = 0;
  for (;;) {
    const r: BatchResult = await runStatement(ctx.client, ctx, sql.sweep({ migrationId: ctx.migrationId, slice: 0, limit, after }));
    if (r.seen === 0) return found;
    found += r.seen;
    progress.rows += r.updated;
    after = r.last_key;
  }
}

/**
 * Tables with no primary or unique not-null key: set-based batches over ranges of heap pages
 * (TID range scans, PostgreSQL 14+), the checkpoint being the next page; one worker. Correct under
 * concurrent writes because every write marks its row: rows moved or inserted by traffic are in
 * sync already, rows moved by the backfill itself are marked. The pass runs until it reaches the
 * table's current end; then the marker is swept until no row is out of sync.
 */
async function runCtidBackfill(ctx: RunContext, step: SetBasedStep): Promise<void> {
  const { client } = ctx;
  const table = qualified(step.schema, step.table);
  const [slice] = await ensureSlices(client, ctx.migrationId, step, 1);
  if (!slice) throw new ExecutionError(`backfill of ${step.table}: no checkpoint row`, { step: step.id, table: step.table });
  let page = slice.last_key ? Number(slice.last_key[0]) : 0;
  const progress: Progress = { rows: await rowsDone(client, ctx.migrationId, step.table) };
  const pagesNow = async () =>
    Number((await client.query<{ pages: string }>(`SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::text AS pages`, [table])).rows[0]!.pages);
  const perPage = await rowsPerPage(client, table);
  const throttle = await openBackfillThrottle({
    client,
    migrationId: ctx.migrationId,
    schema: step.schema,
    table: step.table,
    slice: 0,
    options: ctx.options,
    reporter: ctx.reporter,
  });
  try {
    for (let end = await pagesNow(); ;) {
      while (page < end) {
        const batchSize = batchLimit(await throttle.beforeBatch(), ctx);
        const next = page + Math.max(1, Math.floor(batchSize / perPage));
        const t0 = performance.now();
        const r = await runStatement(client, ctx, ctidBatchSql(step, { migrationId: ctx.migrationId, fromPage: page, toPage: next, nextPage: next }));
        throttle.afterBatch({ rows: r.seen, durationMs: performance.now() - t0 });
        page = next;
        progress.rows += r.updated;
        ctx.reporter.backfillProgress(step.table, progress.rows, step.estimatedRows, false);
      }
      const grown = await pagesNow();
      if (grown <= end) break;
      end = grown;
    }
  } finally {
    await throttle.close();
  }
  // Rows that application transactions held locked as the pass went by, found from the marker.
  for (let round = 0; (await countUnsynced(ctx, step)) > 0; round++) {
    const r = await runStatement(client, ctx, ctidBatchSql(step, { migrationId: ctx.migrationId, fromPage: null, toPage: null, nextPage: page }));
    progress.rows += r.updated;
    await sleep(Math.min(1000, 20 * 2 ** Math.min(round, 6)));
    if (round > 10_000) throw stillUnsynced(step, 'rows stayed locked by other transactions');
  }
  await client.query(`UPDATE tandem.backfill_checkpoints SET done = true, updated_at = now() WHERE migration_id = $1 AND table_name = $2 AND slice = 0`, [
    ctx.migrationId,
    step.table,
  ]);
  ctx.reporter.backfillProgress(step.table, progress.rows, step.estimatedRows, true);
}

async function rowsPerPage(client: pg.Client, table: string): Promise<number> {
  const r = await client.query<{ per_page: number }>(
    `SELECT greatest(1, coalesce(c.reltuples / nullif(c.relpages, 0), 100))::float8 AS per_page FROM pg_class c WHERE c.oid = $1::regclass`,
    [table],
  );
  return r.rows[0]!.per_page;
}

async function rowsDone(client: pg.Client, migrationId: string, table: string): Promise<number> {
  const r = await client.query<{ n: string | null }>(`SELECT sum(rows_done)::text AS n FROM tandem.backfill_checkpoints WHERE migration_id = $1 AND table_name = $2`, [
    migrationId,
    table,
  ]);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * One batch of a slice: plain (one UPDATE of the range, waiting at most PLAIN_LOCK_TIMEOUT_MS for
 * a row an application holds) when the mode says so, else, or when the plain one gave up on a
 * wait (rolled back: nothing of it stays), the locking statement that skips held rows.
 */
async function runBatch(client: pg.Client, ctx: RunContext, sql: KeyedSql, mode: BatchMode, args: BatchArgs): Promise<BatchResult> {
  if (mode.next() === 'plain') {
    const text = batchTransaction(sql.plainBatch(args), Math.min(ctx.options.lockTimeoutMs, PLAIN_LOCK_TIMEOUT_MS), DIRECT_WRITER_VERSION);
    try {
      return await sendTransaction<BatchResult>(client, text);
    } catch (err) {
      if (!isRetryable(err)) throw batchFailed(err);
      mode.waited();
    }
  }
  return runStatement(client, ctx, sql.batch(args));
}

/**
 * One statement in its own transaction, sent as one round trip with the transaction's settings
 * (the trigger steps aside for it), retried on lock conflicts; its one result row.
 */
async function runStatement<T = BatchResult>(client: pg.Client, ctx: RunContext, statement: string): Promise<T> {
  const text = batchTransaction(statement, ctx.options.lockTimeoutMs, DIRECT_WRITER_VERSION);
  try {
    return await retryOnLockConflict(() => sendTransaction<T>(client, text), { maxAttempts: 50 });
  } catch (err) {
    throw batchFailed(err);
  }
}

/** A transaction sent as one query string; its SELECT's one row. On failure it is rolled back and the error thrown. */
async function sendTransaction<T>(client: pg.Client, text: string): Promise<T> {
  try {
    const res = (await client.query(text)) as unknown as pg.QueryResult | pg.QueryResult[];
    const results = Array.isArray(res) ? res : [res];
    const row = results.find((r) => r.command === 'SELECT')?.rows[0] as T | undefined;
    if (!row) throw new Error('the backfill statement returned no row');
    return row;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function batchFailed(err: unknown): ExecutionError {
  const sqlstate = (err as { code?: string }).code;
  return new ExecutionError(`backfill batch failed: ${(err as Error).message}`, { ...(sqlstate ? { sqlstate } : {}) }, { cause: err });
}
