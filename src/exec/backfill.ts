import { ExecutionError } from '../errors.js';
import type { BackfillStep } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';
import type { RunContext } from './executor.js';
import { backoffMs, isRetryable, sleep } from './lock-retry.js';

interface Checkpoint {
  last_key: string[] | null;
  rows_done: string;
  batches: string;
  done: boolean;
}

/**
 * Fill the shadow columns of existing rows in short keyset batches, each its own transaction
 * that also advances the checkpoint, so a killed backfill resumes after its last committed batch.
 *
 * A batch only touches rows whose marker column is not yet true: every write through the sync
 * trigger sets it, so rows written by live traffic are never redone. Rows locked by application
 * transactions are skipped (SKIP LOCKED) rather than waited for, so the backfill never takes part
 * in a deadlock; they are revisited after the pass.
 */
export async function runBackfill(ctx: RunContext, step: BackfillStep): Promise<void> {
  if (step.keyColumns.length === 0) return runCtidBackfill(ctx, step);
  const { client, options, reporter } = ctx;
  const table = qualified(step.schema, step.table);
  const keys = step.keyColumns.map(ident);
  const keyList = keys.join(', ');
  const marker = ident(step.markerColumn);
  const typed = (offset: number) => step.keyTypes.map((t, i) => `$${i + offset}::${t}`).join(', ');
  const keyText = keys.map((k) => `${k}::text`).join(', ');

  const cp = await loadCheckpoint(ctx, step.table, step.keyColumns);
  if (cp.done) return;
  let lastKey = cp.last_key;
  let rowsDone = Number(cp.rows_done);
  const skipped: string[][] = [];

  // batch: the next keys by the keyset; todo: those not yet in sync, locked unless an application
  // transaction holds them; the UPDATE sets the marker and the sync trigger computes the columns.
  const batchSql = (withLowerBound: boolean) => `
    WITH batch AS (
      SELECT ${keyList} FROM ${table}
       ${withLowerBound ? `WHERE (${keyList}) > (${typed(2)})` : ''}
       ORDER BY ${keyList} LIMIT $1
    ), todo AS (
      SELECT ${keys.map((k) => `t.${k}`).join(', ')} FROM ${table} t
       WHERE (${keys.map((k) => `t.${k}`).join(', ')}) IN (SELECT ${keyList} FROM batch) AND t.${marker} IS NOT TRUE
       FOR UPDATE OF t SKIP LOCKED
    ), upd AS (
      UPDATE ${table} t SET ${marker} = true FROM todo
       WHERE ${keys.map((k) => `t.${k} = todo.${k}`).join(' AND ')}
       RETURNING ${keys.map((k) => `t.${k}`).join(', ')}
    )
    SELECT (SELECT count(*) FROM batch)::int AS seen,
           (SELECT count(*) FROM upd)::int AS updated,
           (SELECT array[${keyText}] FROM batch ORDER BY ${keyList} DESC LIMIT 1) AS last_key,
           (SELECT coalesce(json_agg(array[${keys.map((k) => `b.${k}::text`).join(', ')}]), '[]')
              FROM batch b JOIN ${table} t USING (${keyList})
             WHERE t.${marker} IS NOT TRUE
               AND (${keys.map((k) => `b.${k}`).join(', ')}) NOT IN (SELECT ${keyList} FROM upd)) AS skipped`;

  let batchNo = Number(cp.batches);
  for (;;) {
    const params: unknown[] = [options.batchSize, ...(lastKey ?? [])];
    const r = await inBatchTransaction(ctx, async () => {
      const res = await client.query<{ seen: number; updated: number; last_key: string[] | null; skipped: string[][] }>(
        batchSql(lastKey !== null),
        params,
      );
      const row = res.rows[0]!;
      if (row.seen > 0) {
        await client.query(
          `UPDATE tandem.backfill_checkpoints SET last_key = $3, rows_done = rows_done + $4, batches = batches + 1, updated_at = now()
            WHERE migration_id = $1 AND table_name = $2 AND slice = 0`,
          [ctx.migrationId, step.table, row.last_key, row.updated],
        );
      }
      return row;
    });
    if (r.seen === 0) break;
    lastKey = r.last_key;
    rowsDone += r.updated;
    skipped.push(...r.skipped);
    batchNo++;
    reporter.backfillProgress(step.table, rowsDone, step.estimatedRows, false);
    if (options.batchDelayMs > 0) await sleep(options.batchDelayMs);
  }

  // Rows that were locked by application transactions during the pass.
  for (let round = 0; skipped.length > 0; round++) {
    const pending = skipped.splice(0);
    const still = await inBatchTransaction(ctx, async () => {
      const res = await client.query<{ updated: number; skipped: string[][] }>(
        `WITH keys AS (SELECT ${step.keyTypes.map((t, i) => `(k->>${i})::${t} AS ${keys[i]}`).join(', ')} FROM json_array_elements($1::json) k),
         todo AS (
           SELECT ${keys.map((k) => `t.${k}`).join(', ')} FROM ${table} t JOIN keys USING (${keyList})
            WHERE t.${marker} IS NOT TRUE FOR UPDATE OF t SKIP LOCKED
         ), upd AS (
           UPDATE ${table} t SET ${marker} = true FROM todo WHERE ${keys.map((k) => `t.${k} = todo.${k}`).join(' AND ')}
           RETURNING ${keys.map((k) => `t.${k}`).join(', ')}
         )
         SELECT (SELECT count(*) FROM upd)::int AS updated,
                (SELECT coalesce(json_agg(array[${keys.map((k) => `t.${k}::text`).join(', ')}]), '[]')
                   FROM ${table} t JOIN keys USING (${keyList})
                  WHERE t.${marker} IS NOT TRUE AND (${keys.map((k) => `t.${k}`).join(', ')}) NOT IN (SELECT ${keyList} FROM upd)) AS skipped`,
        [JSON.stringify(pending)],
      );
      const row = res.rows[0]!;
      await client.query(
        `UPDATE tandem.backfill_checkpoints SET rows_done = rows_done + $3, updated_at = now() WHERE migration_id = $1 AND table_name = $2 AND slice = 0`,
        [ctx.migrationId, step.table, row.updated],
      );
      return row;
    });
    rowsDone += still.updated;
    skipped.push(...still.skipped);
    if (skipped.length) await sleep(Math.min(1000, 20 * 2 ** Math.min(round, 6)));
    if (round > 10_000) throw new ExecutionError(`backfill of ${step.table}: rows stayed locked by other transactions`, { table: step.table });
  }

  await client.query(
    `UPDATE tandem.backfill_checkpoints SET done = true, updated_at = now() WHERE migration_id = $1 AND table_name = $2 AND slice = 0`,
    [ctx.migrationId, step.table],
  );
  reporter.backfillProgress(step.table, rowsDone, step.estimatedRows, true);
}

/**
 * Tables with no primary or unique not-null key: batches over ranges of heap pages (TID range
 * scans, PostgreSQL 14+), the checkpoint being the next page. Correct under concurrent writes
 * because every write through the trigger marks its row: rows moved or inserted by traffic are
 * already in sync, rows moved by the backfill itself are marked. The pass runs until it reaches
 * the table's current end; then a sweep picks up rows that were locked by others when passed.
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
  // Rows that application transactions held locked as the pass went by.
  for (let round = 0; ; round++) {
    const left = (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${marker} IS NOT TRUE`)).rows[0]!.n;
    if (left === 0) break;
    rowsDone += await touch('true', []);
    await sleep(Math.min(1000, 20 * 2 ** Math.min(round, 6)));
    if (round > 10_000) throw new ExecutionError(`backfill of ${step.table}: rows stayed locked by other transactions`, { table: step.table });
  }
  await client.query(
    `UPDATE tandem.backfill_checkpoints SET done = true, updated_at = now() WHERE migration_id = $1 AND table_name = $2 AND slice = 0`,
    [ctx.migrationId, step.table],
  );
  reporter.backfillProgress(step.table, rowsDone, step.estimatedRows, true);
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
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(options.lockTimeoutMs))}`);
      await client.query(`SET LOCAL tandem.version = '__tandem_backfill'`);
      const result = await fn();
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (isRetryable(err) && attempt < 50) {
        await sleep(backoffMs(attempt));
        continue;
      }
      throw new ExecutionError(`backfill batch failed: ${(err as Error).message}`, { ...((err as { code?: string }).code ? { sqlstate: (err as { code: string }).code } : {}) }, { cause: err });
    }
  }
}
