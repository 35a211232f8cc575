import { ExecutionError } from '../errors.js';
import type { BackfillStep } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';
import type { RunContext } from './executor.js';
import { retryOnLockConflict, sleep } from './lock-retry.js';

interface Checkpoint {
  last_key: string[] | null;
  rows_done: string;
  batches: string;
  done: boolean;
}

/**
 * The trigger-driven backfill, kept for plans stored without a composed `up` (migrations started
 * by an older tandem, resumed by this one): each batch sets the marker and the PL/pgSQL sync
 * trigger computes the new columns row by row. The set-based path (backfill.ts) replaces it for
 * every new plan.
 *
 * A batch only touches rows whose marker is not yet true: rows written by live traffic are never
 * redone. Rows locked by application transactions are skipped (SKIP LOCKED) rather than waited
 * for; their keys are stored in `tandem.backfill_skipped` in the same transaction as the batch and
 * its checkpoint. Before the backfill is marked done, a final sweep over the marker finds any row
 * still not in sync.
 */
export async function runTriggerBackfill(ctx: RunContext, step: BackfillStep): Promise<void> {
  if (step.keyColumns.length === 0) return runCtidBackfill(ctx, step);
  const cp = await loadCheckpoint(ctx, step.table, step.keyColumns);
  if (cp.done) return;
  const sql = keyedSql(step);
  const progress = { rows: Number(cp.rows_done) };
  await keysetPass(ctx, step, sql, cp.last_key, progress);
  await syncUntilNoneLeft(ctx, step, sql, progress);
  await markDone(ctx, step, progress.rows);
}

/** The statements of a keyed backfill: one each for a batch, a revisit and a sweep. */
interface KeyedSql {
  /** $1 batch size, $2 migration id, $3 table name, $4… the last key (when there is one). */
  batch: (withLowerBound: boolean) => string;
  /** $1 migration id, $2 table name, $3 how many stored keys, $4 the last stored key seen (text[] or NULL). */
  revisit: string;
  /** $1 batch size, $2 migration id, $3 table name, $4… the last key (when there is one). */
  sweep: (withLowerBound: boolean) => string;
}

function keyedSql(step: BackfillStep): KeyedSql {
  const table = qualified(step.schema, step.table);
  const keys = step.keyColumns.map(ident);
  const keyList = keys.join(', ');
  const of = (alias: string) => keys.map((k) => `${alias}.${k}`).join(', ');
  const same = (a: string, b: string) => keys.map((k) => `${a}.${k} = ${b}.${k}`).join(' AND ');
  const asText = (alias: string) => `array[${keys.map((k) => `${alias}.${k}::text`).join(', ')}]`;
  const lastKey = step.keyTypes.map((t, i) => `$${i + 4}::${t}`).join(', ');
  const marker = ident(step.markerColumn);
  // The keys locked by others (seen, not yet in sync, not updated here) are stored in the same
  // statement, hence in the batch's transaction: ON CONFLICT because a revisit may store one again.
  const storeSkipped = (from: string) => `
    stored AS (
      INSERT INTO tandem.backfill_skipped (migration_id, table_name, key)
      SELECT $2::bigint, $3::text, ${asText('s')} FROM ${from} s
       WHERE (${of('s')}) NOT IN (SELECT ${keyList} FROM upd)
      ON CONFLICT DO NOTHING RETURNING 1
    )`;
  const lockAndMark = (candidates: string) => `
    todo AS (
      SELECT ${of('t')} FROM ${table} t
       WHERE (${of('t')}) IN (SELECT ${keyList} FROM ${candidates}) AND t.${marker} IS NOT TRUE
       FOR UPDATE OF t SKIP LOCKED
    ), upd AS (
      UPDATE ${table} t SET ${marker} = true FROM todo WHERE ${same('t', 'todo')}
       RETURNING ${of('t')}
    )`;

  // batch: the next keys by the keyset; todo: those not yet in sync, locked unless an application
  // transaction holds them; the UPDATE sets the marker and the sync trigger computes the columns.
  const batch = (withLowerBound: boolean) => `
    WITH batch AS (
      SELECT ${keyList} FROM ${table}
       ${withLowerBound ? `WHERE (${keyList}) > (${lastKey})` : ''}
       ORDER BY ${keyList} LIMIT $1
    ), unsynced AS (
      SELECT ${of('t')} FROM ${table} t JOIN batch b ON ${same('t', 'b')} WHERE t.${marker} IS NOT TRUE
    ), ${lockAndMark('batch')}, ${storeSkipped('unsynced')}
    SELECT (SELECT count(*) FROM batch)::int AS seen,
           (SELECT count(*) FROM upd)::int AS updated,
           (SELECT count(*) FROM stored)::int AS skipped,
           (SELECT ${asText('b')} FROM batch b ORDER BY ${of('b')} DESC LIMIT 1) AS last_key`;

  // The stored keys, in chunks; a key leaves the list once its row is in sync or gone.
  const revisit = `
    WITH pending AS (
      SELECT key FROM tandem.backfill_skipped
       WHERE migration_id = $1 AND table_name = $2 AND ($4::text[] IS NULL OR key > $4::text[])
       ORDER BY key LIMIT $3
    ), keys AS (
      SELECT ${step.keyTypes.map((t, i) => `(key[${i + 1}])::${t} AS ${keys[i]}`).join(', ')}, key FROM pending
    ), ${lockAndMark('keys')}, still AS (
      SELECT k.key FROM keys k JOIN ${table} t ON ${same('t', 'k')}
       WHERE t.${marker} IS NOT TRUE AND (${of('k')}) NOT IN (SELECT ${keyList} FROM upd)
    ), resolved AS (
      DELETE FROM tandem.backfill_skipped s
       WHERE s.migration_id = $1 AND s.table_name = $2 AND s.key IN (SELECT key FROM pending) AND s.key NOT IN (SELECT key FROM still)
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM pending)::int AS pending,
           (SELECT count(*) FROM upd)::int AS updated,
           (SELECT count(*) FROM still)::int AS still,
           (SELECT max(key) FROM pending) AS last_key`;

  // The sweep walks the key (index order) looking only at rows not in sync; when every row is,
  // one statement reaches the end of the table without writing anything.
  const sweep = (withLowerBound: boolean) => `
    WITH unsynced AS (
      SELECT ${keyList} FROM ${table}
       WHERE ${withLowerBound ? `(${keyList}) > (${lastKey}) AND ` : ''}${marker} IS NOT TRUE
       ORDER BY ${keyList} LIMIT $1
    ), ${lockAndMark('unsynced')}, ${storeSkipped('unsynced')}
    SELECT (SELECT count(*) FROM unsynced)::int AS seen,
           (SELECT count(*) FROM upd)::int AS updated,
           (SELECT count(*) FROM stored)::int AS skipped,
           (SELECT ${asText('u')} FROM unsynced u ORDER BY ${of('u')} DESC LIMIT 1) AS last_key`;

  return { batch, revisit, sweep };
}

interface BatchResult {
  seen: number;
  updated: number;
  skipped: number;
  last_key: string[] | null;
}

/** The main pass, from the checkpoint to the end of the key range. */
async function keysetPass(ctx: RunContext, step: BackfillStep, sql: KeyedSql, from: string[] | null, progress: { rows: number }): Promise<void> {
  let lastKey = from;
  for (;;) {
    const r = await inBatchTransaction(ctx, async () => {
      const res = await ctx.client.query<BatchResult>(sql.batch(lastKey !== null), [ctx.options.batchSize, ctx.migrationId, step.table, ...(lastKey ?? [])]);
      const row = res.rows[0]!;
      if (row.seen > 0) {
        await ctx.client.query(
          `UPDATE tandem.backfill_checkpoints SET last_key = $3, rows_done = rows_done + $4, batches = batches + 1, updated_at = now()
            WHERE migration_id = $1 AND table_name = $2 AND slice = 0`,
          [ctx.migrationId, step.table, row.last_key, row.updated],
        );
      }
      return row;
    });
    if (r.seen === 0) return;
    lastKey = r.last_key;
    progress.rows += r.updated;
    ctx.reporter.backfillProgress(step.table, progress.rows, step.estimatedRows, false);
    if (ctx.options.batchDelayMs > 0) await sleep(ctx.options.batchDelayMs);
  }
}

/**
 * Revisit the stored skipped keys, then sweep the whole key range over the marker; repeat until a
 * sweep finds no row out of sync. Rows behind the sweep cannot fall out of sync again (every write
 * sets the marker), so a sweep that finds none proves the invariant at that point.
 */
async function syncUntilNoneLeft(ctx: RunContext, step: BackfillStep, sql: KeyedSql, progress: { rows: number }): Promise<void> {
  for (let sweeps = 0; ; sweeps++) {
    await revisitSkipped(ctx, step, sql, progress);
    if ((await sweepOnce(ctx, step, sql, progress)) === 0) return;
    if (sweeps > 1_000) throw stillUnsynced(step, 'rows kept falling out of sync (written without the sync trigger?)');
  }
}

/** Retry the stored keys until none is left: rows an application transaction still holds are waited for, with backoff. */
async function revisitSkipped(ctx: RunContext, step: BackfillStep, sql: KeyedSql, progress: { rows: number }): Promise<void> {
  const chunk = Math.max(100, ctx.options.batchSize);
  for (let round = 0; ; round++) {
    let still = 0;
    let after: string[] | null = null;
    for (;;) {
      const r = await inBatchTransaction(ctx, async () => {
        const res = await ctx.client.query<{ pending: number; updated: number; still: number; last_key: string[] | null }>(sql.revisit, [
          ctx.migrationId,
          step.table,
          chunk,
          after,
        ]);
        const row = res.rows[0]!;
        if (row.updated > 0) await addRowsDone(ctx, step, row.updated);
        return row;
      });
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
async function sweepOnce(ctx: RunContext, step: BackfillStep, sql: KeyedSql, progress: { rows: number }): Promise<number> {
  const size = Math.max(1_000, ctx.options.batchSize);
  let lastKey: string[] | null = null;
  let found = 0;
  for (;;) {
    const r = await inBatchTransaction(ctx, async () => {
      const res = await ctx.client.query<BatchResult>(sql.sweep(lastKey !== null), [size, ctx.migrationId, step.table, ...(lastKey ?? [])]);
      const row = res.rows[0]!;
      if (row.updated > 0) await addRowsDone(ctx, step, row.updated);
      return row;
    });
    if (r.seen === 0) return found;
    found += r.seen;
    progress.rows += r.updated;
    lastKey = r.last_key;
  }
}

/**
 * Tables with no primary or unique not-null key: batches over ranges of heap pages (TID range
 * scans, PostgreSQL 14+), the checkpoint being the next page. Correct under concurrent writes
 * because every write through the trigger marks its row: rows moved or inserted by traffic are
 * already in sync, rows moved by the backfill itself are marked. The pass runs until it reaches
 * the table's current end; then the same invariant as the keyed path is checked from the database
 * (a row with marker IS NOT TRUE), syncing what is left until none is.
 */
async function runCtidBackfill(ctx: RunContext, step: BackfillStep): Promise<void> {
  const { client, options, reporter } = ctx;
  const table = qualified(step.schema, step.table);
  const marker = ident(step.markerColumn);
  const cp = await loadCheckpoint(ctx, step.table, ['ctid']);
  if (cp.done) return;
  let page = cp.last_key ? Number(cp.last_key[0]) : 0;
  let rowsDone = Number(cp.rows_done);
  const sizing = await client.query<{ pages: string; per_page: number }>(
    `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::text AS pages,
            greatest(1, coalesce(c.reltuples / nullif(c.relpages, 0), 100))::float8 AS per_page
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [table],
  );
  const pagesPerBatch = Math.max(1, Math.floor(options.batchSize / sizing.rows[0]!.per_page));
  const pagesNow = async () =>
    Number((await client.query<{ pages: string }>(`SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::text AS pages`, [table])).rows[0]!.pages);
  let end = Number(sizing.rows[0]!.pages);
  const touch = (where: string, params: unknown[]) =>
    inBatchTransaction(ctx, async () => {
      const r = await client.query<{ n: number }>(
        `WITH upd AS (
           UPDATE ${table} SET ${marker} = true
            WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE ${where} AND ${marker} IS NOT TRUE FOR UPDATE SKIP LOCKED))
           RETURNING 1)
         SELECT count(*)::int AS n FROM upd`,
        params,
      );
      return r.rows[0]!.n;
    });
  for (;;) {
    while (page < end) {
      const next = page + pagesPerBatch;
      const n = await touch(`ctid >= format('(%s,0)', $1::bigint)::tid AND ctid < format('(%s,0)', $2::bigint)::tid`, [page, next]);
      page = next;
      rowsDone += n;
      await client.query(
        `UPDATE tandem.backfill_checkpoints SET last_key = $3, rows_done = rows_done + $4, batches = batches + 1, updated_at = now()
          WHERE migration_id = $1 AND table_name = $2 AND slice = 0`,
        [ctx.migrationId, step.table, [String(page)], n],
      );
      reporter.backfillProgress(step.table, rowsDone, step.estimatedRows, false);
      if (options.batchDelayMs > 0) await sleep(options.batchDelayMs);
    }
    const grown = await pagesNow();
    if (grown <= end) break;
    end = grown;
  }
  // Rows that application transactions held locked as the pass went by, found from the marker
  // (nothing is remembered in memory): the sweep repeats until no row is out of sync.
  for (let round = 0; (await countUnsynced(ctx, step)) > 0; round++) {
    const n = await touch('true', []);
    if (n > 0) await addRowsDone(ctx, step, n);
    rowsDone += n;
    await sleep(Math.min(1000, 20 * 2 ** Math.min(round, 6)));
    if (round > 10_000) throw stillUnsynced(step, 'rows stayed locked by other transactions');
  }
  await markDone(ctx, step, rowsDone);
}

/** Rows of the table not in sync, counted up to `limit` (a full scan only when all are in sync). */
export async function countUnsynced(ctx: RunContext, step: BackfillStep, limit = 1_000_000): Promise<number> {
  const r = await ctx.client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${qualified(step.schema, step.table)} WHERE ${ident(step.markerColumn)} IS NOT TRUE LIMIT ${Math.trunc(limit)}) u`,
  );
  return r.rows[0]!.n;
}

/**
 * Complete's first step: refuse, changing nothing, while any row is not in sync. A backfill that
 * finished leaves none; one can only appear through a write that bypassed the sync trigger
 * (session_replication_role = replica, a disabled trigger) or a marker changed by hand.
 */
export async function verifyInSync(ctx: RunContext, step: BackfillStep): Promise<void> {
  const present = await ctx.client.query(`SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped`, [
    qualified(step.schema, step.table),
    step.markerColumn,
  ]);
  if (present.rowCount === 0) return; // the contract already ran (it drops the marker): nothing left to check
  const n = await countUnsynced(ctx, step, 1_000);
  if (n === 0) return;
  throw new ExecutionError(
    `${n >= 1_000 ? 'at least 1000' : n} rows of table "${step.table}" are not in sync with the new version ` +
      `(their ${step.markerColumn} marker is not true): they were written without the sync trigger, or the marker was changed.\n` +
      `  nothing was removed; the migration stays where it is.\n` +
      `  hint: sync them through the trigger from the old version's columns, as the backfill does: ` +
      `\`BEGIN; SET LOCAL tandem.version = '__tandem_backfill'; UPDATE ${qualified(step.schema, step.table)} SET ${ident(step.markerColumn)} = true WHERE ${ident(step.markerColumn)} IS NOT TRUE; COMMIT;\` ` +
      'then run `tandem complete` again; or run `tandem rollback`.',
    { step: step.id, table: step.table },
    { code: 'backfill-incomplete' },
  );
}

export function stillUnsynced(step: BackfillStep, why: string): ExecutionError {
  return new ExecutionError(`backfill of ${step.table}: ${why}`, { step: step.id, table: step.table }, { code: 'backfill-incomplete' });
}

async function addRowsDone(ctx: RunContext, step: BackfillStep, n: number): Promise<void> {
  await ctx.client.query(`UPDATE tandem.backfill_checkpoints SET rows_done = rows_done + $3, updated_at = now() WHERE migration_id = $1 AND table_name = $2 AND slice = 0`, [
    ctx.migrationId,
    step.table,
    n,
  ]);
}

async function markDone(ctx: RunContext, step: BackfillStep, rowsDone: number): Promise<void> {
  await ctx.client.query(`UPDATE tandem.backfill_checkpoints SET done = true, updated_at = now() WHERE migration_id = $1 AND table_name = $2 AND slice = 0`, [
    ctx.migrationId,
    step.table,
  ]);
  ctx.reporter.backfillProgress(step.table, rowsDone, step.estimatedRows, true);
}

/** The table's checkpoint, created on the first run. */
async function loadCheckpoint(ctx: RunContext, table: string, keyColumns: string[]): Promise<Checkpoint> {
  await ctx.client.query(
    `INSERT INTO tandem.backfill_checkpoints (migration_id, table_name, slice, key_columns)
     VALUES ($1, $2, 0, $3) ON CONFLICT DO NOTHING`,
    [ctx.migrationId, table, keyColumns],
  );
  const r = await ctx.client.query<Checkpoint>(
    `SELECT last_key, rows_done::text, batches::text, done FROM tandem.backfill_checkpoints WHERE migration_id = $1 AND table_name = $2 AND slice = 0`,
    [ctx.migrationId, table],
  );
  return r.rows[0]!;
}

/** One batch: its own transaction, marked as the backfill (old→new direction), retried on lock conflicts. */
async function inBatchTransaction<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  const { client, options } = ctx;
  try {
    return await retryOnLockConflict(
      async () => {
        try {
          await client.query('BEGIN');
          await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(options.lockTimeoutMs))}`);
          await client.query(`SET LOCAL tandem.version = '__tandem_backfill'`);
          const result = await fn();
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      },
      { maxAttempts: 50 },
    );
  } catch (err) {
    const sqlstate = (err as { code?: string }).code;
    throw new ExecutionError(`backfill batch failed: ${(err as Error).message}`, { ...(sqlstate ? { sqlstate } : {}) }, { cause: err });
  }
}
