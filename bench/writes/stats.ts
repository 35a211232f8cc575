/** What the table looks like between phases: size, dead tuples, HOT updates, autovacuum. */
import type pg from 'pg';

export interface TableStats {
  heapBytes: number;
  indexBytes: number;
  liveTuples: number;
  deadTuples: number;
  updates: number;
  hotUpdates: number;
  autovacuums: number;
}

export async function tableStats(client: pg.Client, table: string): Promise<TableStats> {
  // Statistics are a snapshot per transaction: start from a fresh one.
  await client.query('SELECT pg_stat_clear_snapshot()');
  const r = await client.query<Record<keyof TableStats, string>>(
    `SELECT pg_relation_size(c.oid) AS "heapBytes", pg_indexes_size(c.oid) AS "indexBytes",
            coalesce(s.n_live_tup, 0) AS "liveTuples", coalesce(s.n_dead_tup, 0) AS "deadTuples",
            coalesce(s.n_tup_upd, 0) AS updates, coalesce(s.n_tup_hot_upd, 0) AS "hotUpdates",
            coalesce(s.autovacuum_count, 0) AS autovacuums
       FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.oid = $1::regclass`,
    [table],
  );
  const row = r.rows[0]!;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as TableStats;
}

/**
 * Whether an autovacuum worker was seen working on a table while a phase ran (sampled every
 * 200 ms from pg_stat_activity).
 */
export function watchAutovacuum(client: pg.Client, table: string): { stop(): Promise<boolean> } {
  let seen = false;
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await client
        .query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND query ILIKE '%' || $1 || '%'`, [table])
        .catch(() => undefined);
      if (!r) return; // the watching connection is gone: report what was seen until then
      if (r.rows[0]!.n > 0) seen = true;
      await new Promise((res) => setTimeout(res, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}
