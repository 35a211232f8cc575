import pg from 'pg';
import { ident, qualified } from '../sql/ident.js';
import type { Recorder } from '../traffic/workload.js';

/**
 * Application traffic on the scratch copy, from both versions, while the migration runs there:
 * each client reads a row by its key and updates it (a column set to itself, which fires the sync
 * trigger and writes a new row version, as any application update does), through its version's
 * tables or views. Latencies and failures go into the shared traffic Recorder
 * (src/traffic/workload.ts), whose LockSampler names what a client waited behind.
 *
 * The shared generator's ledger (which checks every value) needs the migration's `up`/`down`
 * mirrored in code for each table; a rehearsal of any file has no such mirror, so these clients
 * check that every statement succeeds and touches its row, not the values.
 */

export interface TrafficTable {
  table: string;
  key: string;
  keyType: string;
  /** The column an update sets to itself: the key, unless it is GENERATED ALWAYS (then another plain column). */
  updateColumn: string;
  /** A sample of existing keys (text), picked at random by the clients. */
  keys: string[];
}

export const TRAFFIC_APP_PREFIX = 'tandem-rehearse-';

/** Tables with a single-column primary key, and a sample of their keys. */
export async function trafficTables(client: pg.Client, schema: string, sample = 5_000): Promise<TrafficTable[]> {
  const r = await client.query<{ table: string; key: string; type: string; update: string | null }>(
    `SELECT c.relname::text AS table, a.attname::text AS key, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attidentity <> 'a' THEN a.attname::text ELSE
              (SELECT o.attname::text FROM pg_attribute o WHERE o.attrelid = c.oid AND o.attnum > 0 AND NOT o.attisdropped
                  AND o.attidentity = '' AND o.attgenerated = '' AND o.attname !~ '^_tandem_' ORDER BY o.attnum LIMIT 1) END AS update
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
      WHERE n.nspname = $1 AND i.indisprimary AND i.indnatts = 1 ORDER BY 1`,
    [schema],
  );
  const out: TrafficTable[] = [];
  for (const t of r.rows) {
    const keys = await client.query<{ k: string }>(`SELECT ${ident(t.key)}::text AS k FROM ${qualified(schema, t.table)} TABLESAMPLE SYSTEM (10) LIMIT ${sample}`);
    const all = keys.rows.length ? keys : await client.query<{ k: string }>(`SELECT ${ident(t.key)}::text AS k FROM ${qualified(schema, t.table)} LIMIT ${sample}`);
    if (all.rows.length && t.update) out.push({ table: t.table, key: t.key, keyType: t.type, updateColumn: t.update, keys: all.rows.map((x) => x.k) });
  }
  return out;
}

/** The relations the new version sees in its version schema (views), with their columns. */
export async function viewColumns(client: pg.Client, versionSchema: string): Promise<Map<string, Set<string>>> {
  const r = await client.query<{ view: string; column: string }>(
    `SELECT c.relname::text AS view, a.attname::text AS column FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped WHERE n.nspname = $1 AND c.relkind = 'v'`,
    [versionSchema],
  );
  const out = new Map<string, Set<string>>();
  for (const row of r.rows) out.set(row.view, (out.get(row.view) ?? new Set()).add(row.column));
  return out;
}

export interface TrafficClients {
  stop(): Promise<void>;
  readonly count: number;
}

/**
 * `clients` application sessions of one version, on `searchPath` (the schema for the old version,
 * the version schema for the new one); each runs until stopped.
 */
export async function startTraffic(opts: {
  url: string;
  version: 'old' | 'new';
  searchPath: string;
  tables: TrafficTable[];
  clients: number;
  recorder: Recorder;
  thinkMs: number;
}): Promise<TrafficClients> {
  if (opts.tables.length === 0 || opts.clients === 0) return { stop: async () => undefined, count: 0 };
  let stopped = false;
  const conns: pg.Client[] = [];
  const loops: Promise<void>[] = [];
  for (let i = 0; i < opts.clients; i++) {
    const c = new pg.Client({ connectionString: opts.url, application_name: `${TRAFFIC_APP_PREFIX}${opts.version}-${i}` });
    c.on('error', () => undefined);
    await c.connect();
    await c.query(`SET search_path TO ${ident(opts.searchPath)}`);
    conns.push(c);
    loops.push(clientLoop(c, opts, () => stopped));
  }
  return {
    count: conns.length,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    },
  };
}

async function clientLoop(client: pg.Client, opts: { version: 'old' | 'new'; tables: TrafficTable[]; recorder: Recorder; thinkMs: number }, stopped: () => boolean): Promise<void> {
  const { recorder } = opts;
  while (!stopped()) {
    const t = opts.tables[Math.floor(Math.random() * opts.tables.length)]!;
    const key = t.keys[Math.floor(Math.random() * t.keys.length)]!;
    const update = Math.random() < 0.4;
    const sql = update
      ? `UPDATE ${ident(t.table)} SET ${ident(t.updateColumn)} = ${ident(t.updateColumn)} WHERE ${ident(t.key)} = $1::${t.keyType}`
      : `SELECT * FROM ${ident(t.table)} WHERE ${ident(t.key)} = $1::${t.keyType}`;
    const what = `${opts.version} ${update ? 'update' : 'select'} ${t.table} during ${recorder.step}`;
    const stats = recorder.current;
    const t0 = performance.now();
    try {
      const r = await client.query(sql, [key]);
      stats.ok(performance.now() - t0, what);
      recorder.count(`${opts.version} ${update ? 'update' : 'select'}`);
      if (update && r.rowCount !== 1) stats.mismatch(`${what}: ${r.rowCount} rows updated, expected 1`);
    } catch (err) {
      stats.fail(performance.now() - t0, what, `${what}: ${(err as Error).message}`);
    }
    if (opts.thinkMs > 0) await new Promise((res) => setTimeout(res, opts.thinkMs));
  }
}
