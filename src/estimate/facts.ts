import type pg from 'pg';
import { LockTimeoutError } from '../errors.js';
import { retryOnLockConflict } from '../exec/lock-retry.js';

/**
 * The live statistics an estimate needs, read once, with reads only (the style of
 * src/plan/facts.ts gatherFacts): plain JSON-serialisable data, so that the estimator is a pure
 * function of it and is tested without a database.
 */

/** pg_stats of one column (null when the table was never analysed). */
export interface ColumnStats {
  column: string;
  nullFrac: number;
  /** As pg_stats gives it: > 0 a count of distinct values, < 0 minus the fraction of rows that are distinct. */
  nDistinct: number;
  avgWidth: number;
  mostCommonVals: string[] | null;
  mostCommonFreqs: number[] | null;
  histogramBounds: string[] | null;
}

export interface TableStats {
  table: string;
  /** pg_class.reltuples (-1: never vacuumed or analysed, PostgreSQL 14+). */
  reltuples: number;
  relpages: number;
  /** pg_stat_user_tables.n_live_tup. */
  liveTuples: number;
  /** pg_relation_size: the heap alone. */
  heapBytes: number;
  /** pg_total_relation_size: heap, TOAST and indexes. */
  totalBytes: number;
  indexes: { name: string; bytes: number }[];
  /** The best row count from these (see rowsOf). */
  rows: number;
  /** Sum of the columns' average widths (bytes), 0 when not analysed. */
  rowWidth: number;
  columns: ColumnStats[];
}

export interface EstimateFacts {
  schema: string;
  serverVersion: string;
  serverMajor: number;
  blockSize: number;
  tables: TableStats[];
}

/**
 * The row count the planner would assume: reltuples scaled to the heap's current size (the table
 * may have grown since the last ANALYZE); n_live_tup when the table was never analysed.
 */
export function rowsOf(t: Pick<TableStats, 'reltuples' | 'relpages' | 'liveTuples' | 'heapBytes'>, blockSize: number): number {
  const pagesNow = t.heapBytes / blockSize;
  if (t.reltuples >= 0 && t.relpages > 0) return Math.round((t.reltuples / t.relpages) * pagesNow);
  if (t.reltuples > 0) return Math.round(t.reltuples);
  return Math.max(0, Math.round(t.liveTuples));
}

interface TableRow {
  table: string;
  reltuples: number;
  relpages: number;
  live: string | null;
  heap: string;
  total: string;
  indexes: { name: string; bytes: number }[];
}

interface StatsRow {
  table: string;
  column: string;
  null_frac: number;
  n_distinct: number;
  avg_width: number;
  mcv: string[] | null;
  mcf: number[] | null;
  hist: string[] | null;
}

/**
 * Statistics of `tables` of `schema`, in one read-only REPEATABLE READ transaction. The size
 * functions take ACCESS SHARE on the relation: behind an ACCESS EXCLUSIVE holder they would wait,
 * so the reads take tandem's short lock_timeout and are retried (step "read-statistics").
 */
export async function gatherEstimateFacts(client: pg.Client, input: { schema: string; tables: string[]; lockTimeoutMs?: number; lockRetryForMs?: number }): Promise<EstimateFacts> {
  return retryOnLockConflict(
    async () => {
      await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      try {
        await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(input.lockTimeoutMs ?? 50))}`);
        return await readEstimateFacts(client, input.schema, input.tables);
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
      }
    },
    {
      retryForMs: input.lockRetryForMs ?? 60_000,
      giveUp: ({ attempt, waitedMs, err }) => new LockTimeoutError('read-statistics', attempt, waitedMs, [], { cause: err }),
    },
  );
}

async function readEstimateFacts(client: pg.Client, schema: string, tables: string[]): Promise<EstimateFacts> {
  const server = await client.query<{ v: string; n: number; bs: number }>(
    `SELECT current_setting('server_version') AS v, current_setting('server_version_num')::int AS n, current_setting('block_size')::int AS bs`,
  );
  const { v, n, bs } = server.rows[0]!;
  const rows = await client.query<TableRow>(
    `SELECT c.relname::text AS table, c.reltuples::float8 AS reltuples, c.relpages::int AS relpages, s.n_live_tup::text AS live,
            pg_relation_size(c.oid)::text AS heap, pg_total_relation_size(c.oid)::text AS total,
            coalesce((SELECT json_agg(json_build_object('name', ic.relname, 'bytes', pg_relation_size(ic.oid)) ORDER BY ic.relname)
                        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid), '[]'::json) AS indexes
       FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
       LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE ns.nspname = $1 AND c.relname = ANY ($2::text[]) AND c.relkind IN ('r', 'p')
      ORDER BY c.relname`,
    [schema, tables],
  );
  const stats = await client.query<StatsRow>(
    `SELECT tablename::text AS table, attname::text AS column, null_frac::float8, n_distinct::float8, avg_width::int,
            most_common_vals::text::text[] AS mcv, most_common_freqs::float8[] AS mcf, histogram_bounds::text::text[] AS hist
       FROM pg_stats WHERE schemaname = $1 AND tablename = ANY ($2::text[]) AND NOT inherited
      ORDER BY tablename, attname`,
    [schema, tables],
  );
  return { schema, serverVersion: v, serverMajor: Math.floor(n / 10_000), blockSize: bs, tables: rows.rows.map((r) => tableStats(r, stats.rows, bs)) };
}

function tableStats(r: TableRow, stats: StatsRow[], blockSize: number): TableStats {
  const columns = stats
    .filter((s) => s.table === r.table)
    .map((s) => ({
      column: s.column,
      nullFrac: s.null_frac,
      nDistinct: s.n_distinct,
      avgWidth: s.avg_width,
      mostCommonVals: s.mcv,
      mostCommonFreqs: s.mcf,
      histogramBounds: s.hist,
    }));
  const base = { reltuples: r.reltuples, relpages: r.relpages, liveTuples: Number(r.live ?? 0), heapBytes: Number(r.heap) };
  return {
    table: r.table,
    ...base,
    totalBytes: Number(r.total),
    indexes: r.indexes.map((i) => ({ name: i.name, bytes: Number(i.bytes) })),
    rows: rowsOf(base, blockSize),
    rowWidth: columns.reduce((w, c) => w + c.avgWidth, 0),
    columns,
  };
}
