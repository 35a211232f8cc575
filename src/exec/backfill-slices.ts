import type pg from 'pg';
import type { BackfillStep } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';

/**
 * The key space of a parallel backfill, split into slices: one row of tandem.backfill_checkpoints
 * each (range_start exclusive, range_end inclusive, NULL = open; last_key the slice's checkpoint).
 *
 * A worker claims a slice in a SHORT transaction: the slice rows not done are read FOR UPDATE
 * SKIP LOCKED (two claimers never pick the same row at the same moment), and the claim itself is
 * a session advisory lock on the worker's own connection, taken inside that transaction but kept
 * after it commits. No transaction stays open while a slice is worked (that would hold back the
 * xmin horizon and stop vacuum); if the worker dies (kill -9, a lost connection), the server drops
 * the advisory lock with its session, and another worker (of this process or another) claims the
 * slice and resumes it from its last_key.
 */

/** Advisory lock class of slice claims (the runner lock is 0x7a4d, the slice split 0x7a4f). */
const SLICE_LOCK_CLASS = 0x7a4e;
const SPLIT_LOCK_CLASS = 0x7a4f;

export interface Slice {
  slice: number;
  range_start: string[] | null;
  range_end: string[] | null;
  last_key: string[] | null;
  done: boolean;
}

const claimKey = (migrationId: string, table: string, slice: number) => `${migrationId}:${table}:${slice}`;

/** How many slices a backfill with this many workers is split into: a few per worker, so a slow slice does not leave the others idle. */
export function sliceCount(workers: number, estimatedRows: number): number {
  if (workers <= 1) return estimatedRows >= 5_000_000 ? 16 : 1;
  return Math.min(256, workers * 4);
}

/**
 * Create the table's slices if none exist yet (serialised by a transaction-level advisory lock,
 * so two workers starting together create them once). An existing split is kept as it is: its
 * checkpoints are what a resumed backfill continues from.
 */
export async function ensureSlices(client: pg.Client, migrationId: string, step: BackfillStep, count: number): Promise<Slice[]> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [SPLIT_LOCK_CLASS, `${migrationId}:${step.table}`]);
    let slices = await readSlices(client, migrationId, step.table);
    if (slices.length === 0) {
      const bounds = count > 1 ? await sampleBoundaries(client, step, count) : [];
      const ranges = [...bounds, null].map((end, i) => ({ slice: i, start: i === 0 ? null : bounds[i - 1]!, end }));
      for (const r of ranges) {
        await client.query(
          `INSERT INTO tandem.backfill_checkpoints (migration_id, table_name, slice, key_columns, range_start, range_end)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
          [migrationId, step.table, r.slice, step.keyColumns.length ? step.keyColumns : ['ctid'], r.start, r.end],
        );
      }
      slices = await readSlices(client, migrationId, step.table);
    }
    await client.query('COMMIT');
    return slices;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export async function readSlices(client: pg.Client, migrationId: string, table: string): Promise<Slice[]> {
  const r = await client.query<Slice>(
    `SELECT slice, range_start, range_end, last_key, done FROM tandem.backfill_checkpoints WHERE migration_id = $1 AND table_name = $2 ORDER BY slice`,
    [migrationId, table],
  );
  return r.rows;
}

/**
 * count-1 boundaries of the key, from a block sample of about 64 pages (TABLESAMPLE SYSTEM: it
 * reads only the sampled pages, never the whole table), sorted: percentiles of the key.
 */
async function sampleBoundaries(client: pg.Client, step: BackfillStep, count: number): Promise<string[][]> {
  const table = qualified(step.schema, step.table);
  const keys = step.keyColumns.map(ident);
  const size = await client.query<{ pages: string }>(`SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::text AS pages`, [table]);
  const pages = Math.max(1, Number(size.rows[0]!.pages));
  const percent = Math.min(100, (100 * 64) / pages);
  const sample = await client.query<{ key: string[] }>(
    `SELECT array[${keys.map((k) => `${k}::text`).join(', ')}] AS key FROM ${table} TABLESAMPLE SYSTEM (${percent.toFixed(6)}) ORDER BY ${keys.join(', ')}`,
  );
  const rows = sample.rows.map((r) => r.key);
  const bounds: string[][] = [];
  for (let i = 1; i < count; i++) {
    const b = rows[Math.floor((i * rows.length) / count)];
    if (b && (bounds.length === 0 || JSON.stringify(bounds[bounds.length - 1]) !== JSON.stringify(b))) bounds.push(b);
  }
  return bounds;
}

/** Claim a slice not done and not claimed by a live worker; undefined when there is none. */
export async function claimSlice(client: pg.Client, migrationId: string, table: string): Promise<Slice | undefined> {
  await client.query('BEGIN');
  try {
    const candidates = await client.query<Slice>(
      `SELECT slice, range_start, range_end, last_key, done FROM tandem.backfill_checkpoints
        WHERE migration_id = $1 AND table_name = $2 AND NOT done ORDER BY slice FOR UPDATE SKIP LOCKED`,
      [migrationId, table],
    );
    let claimed: Slice | undefined;
    for (const s of candidates.rows) {
      const r = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok`, [SLICE_LOCK_CLASS, claimKey(migrationId, table, s.slice)]);
      if (!r.rows[0]!.ok) continue;
      // Read again under the claim: a worker that finished the slice just before it let go of it
      // committed its last checkpoint first, which this newer snapshot sees.
      const fresh = await client.query<Slice>(
        `SELECT slice, range_start, range_end, last_key, done FROM tandem.backfill_checkpoints WHERE migration_id = $1 AND table_name = $2 AND slice = $3`,
        [migrationId, table, s.slice],
      );
      if (fresh.rows[0] && !fresh.rows[0].done) {
        claimed = fresh.rows[0];
        break;
      }
      await releaseSlice(client, migrationId, table, s.slice);
    }
    await client.query('COMMIT');
    return claimed;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export async function releaseSlice(client: pg.Client, migrationId: string, table: string, slice: number): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock($1, hashtext($2))`, [SLICE_LOCK_CLASS, claimKey(migrationId, table, slice)]).catch(() => undefined);
}

/** Whether every slice's main pass is done. */
export async function allSlicesDone(client: pg.Client, migrationId: string, table: string): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>(`SELECT bool_and(done) AS ok FROM tandem.backfill_checkpoints WHERE migration_id = $1 AND table_name = $2`, [migrationId, table]);
  return r.rows[0]?.ok === true;
}
