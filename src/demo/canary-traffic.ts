/**
 * Application traffic of a canary: every request is keyed (by the row it works on) and runs in
 * `router.transaction(key, …)`, so the rollout decides, key by key, which version's shape it
 * uses. Built on the shared generator's pieces (src/traffic/workload.ts): the shapes of both
 * versions, a Partition of keys per client (one writer per key), the Ledger of acknowledged
 * writes that verifyTable reads back. Per version, statements and failures are counted here as
 * well (what the app saw), beside the health the router flushes (what the gates see).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { VersionRouter } from '../client/router.js';
import { ident } from '../sql/ident.js';
import { diffRow, type GenContext, type Ledger, Partition, type Row, type TrafficShape, type Version } from '../traffic/workload.js';

export interface CanaryTrafficOptions {
  router: VersionRouter;
  shape: TrafficShape;
  ledger: Ledger;
  /** The new version's schema: a transaction routed there uses the new shape, any other the old. */
  newVersion: string;
  clients: number;
  seedRows: number;
  thinkMs: number;
  /** Added to the keys the clients insert (a second run on the same table must not reuse the first run's). */
  insertKeyOffset?: number;
}

export interface SideCounts {
  transactions: number;
  failed: number;
  /** Succeeded but read something else than the ledger expects (must stay 0). */
  wrong: number;
  errors: string[];
}

export interface CanaryTraffic {
  readonly counts: Record<Version, SideCounts>;
  stop(): Promise<void>;
}

const rnd = (n: number) => Math.floor(Math.random() * n);
const emptyCounts = (): SideCounts => ({ transactions: 0, failed: 0, wrong: 0, errors: [] });

export function startCanaryTraffic(opts: CanaryTrafficOptions): CanaryTraffic {
  const counts: Record<Version, SideCounts> = { old: emptyCounts(), new: emptyCounts() };
  let stopped = false;
  const partition = (i: number) => {
    const p = new Partition(i, opts.clients, opts.seedRows);
    p.nextKey += opts.insertKeyOffset ?? 0;
    return p;
  };
  const loops = Array.from({ length: opts.clients }, (_, i) => clientLoop(opts, partition(i), counts, () => stopped));
  return {
    counts,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

interface Statement {
  sql: string;
  params: unknown[];
  /** What the ledger learns when the transaction commits. */
  acknowledge(returned: Record<string, unknown> | undefined, rowCount: number): string | undefined;
}

async function clientLoop(opts: CanaryTrafficOptions, part: Partition, counts: Record<Version, SideCounts>, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    const n = ++part.seq;
    const insert = part.inserted.length === 0 || Math.random() < 0.3;
    const id = insert ? part.nextKey++ : Math.random() < 0.5 ? part.inserted[rnd(part.inserted.length)]! : (part.randomSeed() ?? part.inserted[rnd(part.inserted.length)]!);
    let side: Version = 'old';
    try {
      const outcome = await opts.router.transaction(String(id), async (client: pg.PoolClient, version: string) => {
        side = version === opts.newVersion ? 'new' : 'old';
        const st = statementFor(opts, side, id, n, insert);
        const r = await client.query(st.sql, st.params);
        return { st, row: r.rows[0] as Record<string, unknown> | undefined, rowCount: r.rowCount ?? 0 };
      });
      counts[side].transactions++;
      const mismatch = outcome.st.acknowledge(outcome.row, outcome.rowCount);
      if (insert && mismatch === undefined) part.inserted.push(id);
      if (mismatch !== undefined) {
        counts[side].wrong++;
        if (counts[side].errors.length < 5) counts[side].errors.push(`${side} ${id}: ${mismatch}`);
      }
    } catch (err) {
      counts[side].transactions++;
      counts[side].failed++;
      if (counts[side].errors.length < 5) counts[side].errors.push(`${side} ${id}: ${(err as Error).message}`);
    }
    if (opts.thinkMs > 0) await sleep(opts.thinkMs);
  }
}

/** One statement on row `id` in `side`'s shape: a select (checked against the ledger), an insert or an update (both with RETURNING). */
function statementFor(opts: CanaryTrafficOptions, side: Version, id: number, n: number, insert: boolean): Statement {
  const { shape, ledger } = opts;
  const table = ident(side === 'old' ? shape.oldTable : shape.newTable!);
  const columns = side === 'old' ? shape.oldColumns : shape.newColumns;
  const writable = columns.filter((c) => !c.readOnly);
  const colList = columns.map((c) => ident(c.name)).join(', ');
  const g: GenContext = { tag: `${side[0]}${id}x${n}`, n, valid: false };
  const fresh: Row = Object.fromEntries(columns.map((c) => [c.name, c.gen(g)]));
  const check = (got: Record<string, unknown> | undefined, want: Row | null) => diffRow(got, want, columns);
  if (insert) {
    return {
      sql: `INSERT INTO ${table} (id, ${writable.map((c) => ident(c.name)).join(', ')}) VALUES ($1, ${writable.map((_, i) => `$${i + 2}`).join(', ')}) RETURNING ${colList}`,
      params: [id, ...writable.map((c) => fresh[c.name])],
      acknowledge: (got) => {
        ledger.write(id, side, fresh);
        return check(got, fresh);
      },
    };
  }
  const prev = ledger.expected(id, side);
  if (prev === null || Math.random() < 0.3) {
    return { sql: `SELECT ${colList} FROM ${table} WHERE id = $1`, params: [id], acknowledge: (got) => check(got, prev) };
  }
  const row: Row = { ...prev, ...Object.fromEntries(writable.map((c) => [c.name, fresh[c.name]!])) };
  return {
    sql: `UPDATE ${table} SET ${writable.map((c, i) => `${ident(c.name)} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING ${colList}`,
    params: [id, ...writable.map((c) => row[c.name])],
    acknowledge: (got, rowCount) => {
      if (rowCount !== 1) return `update: ${rowCount} rows`;
      ledger.write(id, side, row);
      return check(got, row);
    },
  };
}
