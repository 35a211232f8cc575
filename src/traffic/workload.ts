/**
 * The one traffic generator: simulated application instances of the old and the new version
 * (the demo, the zero-downtime benchmark and the tests use it). Each runs selects, inserts,
 * updates (full and partial), upserts and deletes, all with RETURNING, through its version's
 * table or view, with a small think time between statements. Latency is recorded per phase;
 * every acknowledged write goes into a ledger that knows what the row must look like in either
 * version's shape, and verifyTable reads the table back against it.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { ident } from '../sql/ident.js';
import { maxOf, percentile } from '../util/percentile.js';

export type Value = string | number | null;
export type Row = Record<string, Value>;

/** What a client needs to generate one value. `tag` is unique per statement across the run. */
export interface GenContext {
  tag: string;
  n: number;
  /** The old version writes only values the new constraints accept. */
  valid: boolean;
}

export interface ColumnSpec {
  name: string;
  /** The value an insert writes; for a read-only column, the value it gets without being written. */
  gen: (g: GenContext) => Value;
  /** Read and verified, never written by this version (e.g. a column only a default fills). */
  readOnly?: boolean;
}

/**
 * The table the traffic works on, in both versions' shapes. Rows are keyed by an integer `id`
 * (the primary key); seed rows are 1…seedRows and look like `seedRow(id)` to the old version.
 */
export interface TrafficShape {
  oldTable: string;
  /** The table (view) name the new version uses; null when it has none. */
  newTable: string | null;
  oldColumns: ColumnSpec[];
  newColumns: ColumnSpec[];
  /** A row as the old version wrote it, as the new version sees it (the mirror of `up`). */
  toNew(o: Row): Row;
  /** A row as the new version wrote it, as the old version sees it (the mirror of `down`). */
  toOld(n: Row): Row;
  seedRow(id: number): Row;
  /** Application names of the clients start with it (the lock sampler watches them). */
  appPrefix?: string;
  /**
   * What the sync trigger does on an UPDATE that names only some columns. Once the backfill is
   * done it fires only for an UPDATE naming a column it reads or writes (src/plan/trigger.ts):
   * `watched[v]`, as version v names them. `derived[v]`: the columns of version v the trigger
   * computes when the other version writes. An update by one version naming no watched column
   * leaves the other version's derived columns as they were (and shows it the rest as mirrored).
   * Absent: every update recomputes the other version's columns (`toNew`/`toOld`), which is also
   * what the trigger does when the shape's up/down round-trips exactly.
   */
  sync?: { watched: Record<Version, string[]>; derived: Record<Version, string[]> };
}

export type Version = 'old' | 'new';

/** Statements that started while one phase was current. */
export class PhaseStats {
  statements = 0;
  failed = 0;
  /** Statements that succeeded but returned something else than the ledger expects. */
  wrong = 0;
  readonly latencies: number[] = [];
  readonly errors: string[] = [];
  readonly startedAt = performance.now();
  endedAt: number | undefined;
  /** The slowest statement: what it was and which engine step was running when it started. */
  worst = '';
  private worstMs = -1;
  /** Longest lock wait of a client seen by the sampler, per blocker. */
  readonly lockWaits = new Map<string, number>();
  /**
   * Longest time a client statement was seen running in the server without waiting for a lock,
   * per what it was doing then (a wait event such as IO:DataFileRead, or none: on CPU).
   */
  readonly otherWaits = new Map<string, number>();
  /** Autovacuum seen working in the database during the phase (what it ran). */
  readonly autovacuum = new Set<string>();
  /** The engine's warnings during the phase. */
  readonly warnings: string[] = [];
  /**
   * Longest delay of this process's event loop: a statement cannot be seen to finish earlier
   * than the loop gets to it, so a stall here is the benchmark process starved of CPU, not the
   * database.
   */
  loopDelayMaxMs = 0;

  constructor(
    readonly name: string,
    readonly clients: number,
  ) {}

  ok(ms: number, what: string): void {
    this.statements++;
    this.latencies.push(ms);
    if (ms > this.worstMs) {
      this.worstMs = ms;
      this.worst = what;
    }
  }

  fail(ms: number, what: string, message: string): void {
    this.ok(ms, what);
    this.failed++;
    if (this.errors.length < 5) this.errors.push(message);
  }

  lockWait(blocker: string, ms: number): void {
    if (ms > (this.lockWaits.get(blocker) ?? 0)) this.lockWaits.set(blocker, ms);
  }

  otherWait(event: string, ms: number): void {
    if (ms > (this.otherWaits.get(event) ?? 0)) this.otherWaits.set(event, ms);
  }

  /** The longest non-lock time of a statement in the server, and what it was doing. */
  longestOtherWait(): { event: string; ms: number } | undefined {
    let best: { event: string; ms: number } | undefined;
    for (const [event, ms] of this.otherWaits) if (!best || ms > best.ms) best = { event, ms };
    return best;
  }

  /** The longest lock wait and what it waited for. */
  longestLockWait(): { blocker: string; ms: number } | undefined {
    let best: { blocker: string; ms: number } | undefined;
    for (const [blocker, ms] of this.lockWaits) if (!best || ms > best.ms) best = { blocker, ms };
    return best;
  }

  mismatch(message: string): void {
    this.wrong++;
    if (this.errors.length < 5) this.errors.push(message);
  }

  get seconds(): number {
    return ((this.endedAt ?? performance.now()) - this.startedAt) / 1000;
  }

  percentile(p: number): number {
    return percentile(this.latencies, p);
  }

  max(): number {
    return maxOf(this.latencies);
  }
}

/** The current phase; a statement is counted in the phase during which it started. */
export class Recorder {
  readonly phases: PhaseStats[] = [];
  private readonly loop = monitorEventLoopDelay({ resolution: 5 });
  /** Successful statements per "<version> <kind>", to show every kind really ran. */
  readonly kinds: Record<string, number> = {};
  current: PhaseStats;
  /** What the engine is doing (its current step), for attributing slow statements. */
  step = 'no migration';

  constructor() {
    this.current = new PhaseStats('setup', 0);
    this.loop.enable();
  }

  private close(): void {
    this.current.endedAt = performance.now();
    this.current.loopDelayMaxMs = this.loop.max / 1e6;
    this.loop.reset();
  }

  begin(name: string, clients: number): PhaseStats {
    this.close();
    this.current = new PhaseStats(name, clients);
    this.phases.push(this.current);
    return this.current;
  }

  end(): void {
    this.close();
    this.loop.disable();
    this.current = new PhaseStats('teardown', 0);
  }

  count(kind: string): void {
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
  }
}

interface Entry {
  writer: Version;
  row: Row;
  /** The other version's row, when the write did not fire the sync trigger (TrafficShape.sync). */
  other?: Row;
}

/**
 * Per key, the last acknowledged write (or delete) and which version made it. A row written by
 * one version looks to the other as the shape's `toNew`/`toOld` (the mirror of `up`/`down`)
 * says. Keys are partitioned between clients, so there is one writer per key and no ordering
 * question between clients.
 */
export class Ledger {
  readonly entries = new Map<number, Entry | null>();
  acknowledged = 0;

  constructor(
    readonly shape: TrafficShape,
    readonly seedRows: number,
  ) {}

  private entry(id: number): Entry | null {
    if (this.entries.has(id)) return this.entries.get(id)!;
    return Number.isInteger(id) && id >= 1 && id <= this.seedRows ? { writer: 'old', row: this.shape.seedRow(id) } : null;
  }

  /** The row as `shape`'s version must see it, or null if it must not exist. */
  expected(id: number, shape: Version): Row | null {
    const e = this.entry(id);
    if (!e) return null;
    if (e.writer === shape) return e.row;
    if (e.other) return e.other;
    return this.mirror(e.writer, e.row);
  }

  private mirror(writer: Version, row: Row): Row {
    return writer === 'old' ? this.shape.toNew(row) : this.shape.toOld(row);
  }

  /** `changed`: the columns an UPDATE named (an insert, or absent: all of them). */
  write(id: number, writer: Version, row: Row, changed?: string[]): void {
    const sync = this.shape.sync;
    const otherVersion: Version = writer === 'old' ? 'new' : 'old';
    const previous = sync && changed && !changed.some((c) => sync.watched[writer].includes(c)) ? this.expected(id, otherVersion) : null;
    if (sync && previous) {
      const other = this.mirror(writer, row);
      for (const c of sync.derived[otherVersion]) if (c in previous) other[c] = previous[c] as Value;
      this.entries.set(id, { writer, row, other });
    } else this.entries.set(id, { writer, row });
    this.acknowledged++;
  }

  remove(id: number): void {
    this.entries.set(id, null);
    this.acknowledged++;
  }

  /** How many rows the table must hold. */
  expectedCount(): number {
    let n = this.seedRows;
    for (const [id, e] of this.entries) {
      const seeded = id >= 1 && id <= this.seedRows;
      if (seeded && e === null) n--;
      if (!seeded && e !== null) n++;
    }
    return n;
  }
}

/** The keys one client slot owns: seed rows with id % of == index, and the keys it inserts. */
export class Partition {
  seq = 0;
  readonly inserted: number[] = [];
  nextKey: number;

  constructor(
    readonly index: number,
    readonly of: number,
    readonly seedRows: number,
  ) {
    this.nextKey = (index + 1) * 10_000_000_000;
  }

  randomSeed(): number | undefined {
    const lo = Math.max(0, Math.ceil((1 - this.index) / this.of));
    const hi = Math.floor((this.seedRows - this.index) / this.of);
    if (hi < lo) return undefined;
    return this.index + this.of * (lo + Math.floor(Math.random() * (hi - lo + 1)));
  }
}

export const norm = (v: Value | undefined): string | null => (v === undefined ? '\u0000missing' : v === null ? null : String(v));

/** The first column whose value differs, or undefined. */
export function diffRow(got: Record<string, unknown> | undefined, want: Row | null, columns: ColumnSpec[]): string | undefined {
  if (!got && !want) return undefined;
  if (!got) return 'row missing';
  if (!want) return 'row present but should not exist';
  for (const c of columns) {
    if (norm(got[c.name] as Value) !== norm(want[c.name])) return `${c.name}: got ${JSON.stringify(got[c.name])}, want ${JSON.stringify(want[c.name])}`;
  }
  return undefined;
}

export interface ClientSpec {
  client: pg.Client;
  version: Version;
  shape: TrafficShape;
  partition: Partition;
  ledger: Ledger;
  recorder: Recorder;
  thinkMs: number;
  /** Write only values the new constraints accept (the plain-ALTER run). */
  valid: boolean;
}

export interface RunningClient {
  stop(): Promise<void>;
}

const rnd = (n: number) => Math.floor(Math.random() * n);

export function startClient(spec: ClientSpec): RunningClient {
  let stopped = false;
  const done = clientLoop(spec, () => stopped);
  return {
    stop() {
      stopped = true;
      return done;
    },
  };
}

async function clientLoop(spec: ClientSpec, shouldStop: () => boolean): Promise<void> {
  const { client, version, shape, partition: part, ledger, recorder } = spec;
  const table = ident(version === 'old' ? shape.oldTable : shape.newTable!);
  const columns = version === 'old' ? shape.oldColumns : shape.newColumns;
  const writable = columns.filter((c) => !c.readOnly);
  const colList = columns.map((c) => ident(c.name)).join(', ');
  const who = `${version}#${part.index}`;

  const exec = async (kind: string, sql: string, params: unknown[]): Promise<pg.QueryResult | undefined> => {
    const stats = recorder.current;
    const what = `${version} ${kind} during ${recorder.step}`;
    const t0 = performance.now();
    try {
      const r = await client.query(sql, params);
      stats.ok(performance.now() - t0, what);
      recorder.count(`${version} ${kind}`);
      return r;
    } catch (err) {
      stats.fail(performance.now() - t0, what, `${who} ${kind}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const check = (kind: string, id: number, got: Record<string, unknown> | undefined, want: Row | null) => {
    const d = diffRow(got, want, columns);
    if (d !== undefined) recorder.current.mismatch(`${who} ${kind} ${id}: ${d}`);
  };
  const pickLive = (): number | undefined => {
    for (let tries = 0; tries < 10; tries++) {
      const id = part.inserted.length > 0 && Math.random() < 0.4 ? part.inserted[rnd(part.inserted.length)]! : part.randomSeed();
      if (id !== undefined && ledger.expected(id, version) !== null) return id;
    }
    return undefined;
  };
  const fresh = (g: GenContext): Row => Object.fromEntries(columns.map((c) => [c.name, c.gen(g)]));

  while (!shouldStop()) {
    const n = ++part.seq;
    const g: GenContext = { tag: `${version[0]}${part.index}x${n}`, n, valid: spec.valid };
    const dice = rnd(100);
    if (dice < 25) {
      const id = part.inserted.length > 0 && Math.random() < 0.5 ? part.inserted[rnd(part.inserted.length)]! : part.randomSeed();
      if (id === undefined) continue;
      const r = await exec('select', `SELECT ${colList} FROM ${table} WHERE id = $1`, [id]);
      if (r) check('select', id, r.rows[0], ledger.expected(id, version));
    } else if (dice < 45) {
      const id = part.nextKey++;
      const row = fresh(g);
      const r = await exec(
        'insert',
        `INSERT INTO ${table} (id, ${writable.map((c) => ident(c.name)).join(', ')}) VALUES ($1, ${writable.map((_, i) => `$${i + 2}`).join(', ')}) RETURNING ${colList}`,
        [id, ...writable.map((c) => row[c.name])],
      );
      if (r) {
        ledger.write(id, version, row);
        part.inserted.push(id);
        check('insert', id, r.rows[0], row);
      }
    } else if (dice < 72) {
      const id = pickLive();
      if (id === undefined) continue;
      const prev = ledger.expected(id, version)!;
      const all = fresh(g);
      // Half of the updates set every column, half a single one (the trigger must keep the rest).
      const set = Math.random() < 0.5 ? writable : [writable[rnd(writable.length)]!];
      const row: Row = { ...prev };
      for (const c of set) row[c.name] = all[c.name] as Value;
      const r = await exec('update', `UPDATE ${table} SET ${set.map((c, i) => `${ident(c.name)} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING ${colList}`, [
        id,
        ...set.map((c) => row[c.name]),
      ]);
      if (r) {
        if (r.rowCount !== 1) recorder.current.mismatch(`${who} update ${id}: ${r.rowCount} rows`);
        else {
          ledger.write(
            id,
            version,
            row,
            set.map((c) => c.name),
          );
          check('update', id, r.rows[0], row);
        }
      }
    } else if (dice < 90) {
      const existing = Math.random() < 0.5 ? pickLive() : undefined;
      const id = existing ?? part.nextKey++;
      const prev = existing !== undefined ? ledger.expected(existing, version) : null;
      const all = fresh(g);
      const row: Row = { ...all };
      if (prev) for (const c of columns) if (c.readOnly) row[c.name] = prev[c.name] as Value;
      const r = await exec(
        'upsert',
        `INSERT INTO ${table} (id, ${writable.map((c) => ident(c.name)).join(', ')}) VALUES ($1, ${writable.map((_, i) => `$${i + 2}`).join(', ')})
         ON CONFLICT (id) DO UPDATE SET ${writable.map((c) => `${ident(c.name)} = EXCLUDED.${ident(c.name)}`).join(', ')} RETURNING ${colList}`,
        [id, ...writable.map((c) => row[c.name])],
      );
      if (r) {
        // An existing key: the DO UPDATE names every writable column.
        ledger.write(id, version, row, existing !== undefined ? writable.map((c) => c.name) : undefined);
        if (existing === undefined) part.inserted.push(id);
        check('upsert', id, r.rows[0], row);
      }
    } else {
      const id = pickLive();
      if (id === undefined) continue;
      const r = await exec('delete', `DELETE FROM ${table} WHERE id = $1 RETURNING id`, [id]);
      if (r) {
        if (r.rowCount !== 1) recorder.current.mismatch(`${who} delete ${id}: ${r.rowCount} rows`);
        else ledger.remove(id);
      }
    }
    if (spec.thinkMs > 0) await sleep(spec.thinkMs);
  }
}

export interface VerifyResult {
  /** Rows read back. */
  rows: number;
  /** Rows the ledger expects. */
  expectedRows: number;
  /** Keys written (or deleted) by the clients. */
  keysWritten: number;
  acknowledgedWrites: number;
  wrong: number;
  missing: number;
  unexpected: number;
  samples: string[];
}

/** Reads the whole table back in key order and compares every row with the ledger. */
export async function verifyTable(client: pg.Client, table: string, columns: ColumnSpec[], ledger: Ledger, shape: Version): Promise<VerifyResult> {
  const colList = columns.map((c) => ident(c.name)).join(', ');
  let last = -1;
  let rows = 0;
  let present = 0;
  let wrong = 0;
  let unexpected = 0;
  const samples: string[] = [];
  for (;;) {
    const r = await client.query(`SELECT id, ${colList} FROM ${ident(table)} WHERE id > $1 ORDER BY id LIMIT 20000`, [last]);
    if (r.rows.length === 0) break;
    for (const row of r.rows) {
      const id = Number(row.id);
      last = id;
      rows++;
      const want = ledger.expected(id, shape);
      if (!want) {
        unexpected++;
        if (samples.length < 5) samples.push(`${id}: present but deleted or never written`);
        continue;
      }
      present++;
      const d = diffRow(row, want, columns);
      if (d !== undefined) {
        wrong++;
        if (samples.length < 5) samples.push(`${id}: ${d}`);
      }
    }
  }
  const expectedRows = ledger.expectedCount();
  const missing = expectedRows - present;
  if (missing > 0 && samples.length < 5) {
    const ids = [...ledger.entries].filter(([, e]) => e !== null).map(([id]) => id);
    for (let i = 0; i < ids.length && samples.length < 5; i += 5000) {
      const chunk = ids.slice(i, i + 5000);
      const found = new Set((await client.query(`SELECT id FROM ${ident(table)} WHERE id = ANY ($1::bigint[])`, [chunk])).rows.map((x) => Number(x.id)));
      for (const id of chunk) if (!found.has(id) && samples.length < 5) samples.push(`${id}: acknowledged write missing`);
    }
  }
  return { rows, expectedRows, keysWritten: ledger.entries.size, acknowledgedWrites: ledger.acknowledged, wrong, missing, unexpected, samples };
}

/** What a blocking session was doing, in a few words. */
function describeBlocker(app: string, query: string): string {
  const q = query.replace(/\s+/g, ' ').trim();
  const who = app === 'tandem' ? 'tandem' : /^(zdt|demo-app|traffic)-/.test(app) ? 'another client' : app || 'server process';
  let what = q.slice(0, 50);
  if (/^WITH (batch|keys)\b/i.test(q) || /^UPDATE tandem\.backfill_checkpoints\b/i.test(q)) what = 'backfill batch';
  return `${who}: ${what}`;
}

/**
 * Samples, every few milliseconds, which client sessions wait for a lock and behind whom, how
 * long the others have been running in the server and on what (a wait event, or none: CPU), and
 * whether autovacuum works in the database; records the longest of each in the current phase.
 * It tells a stall behind tandem (a backfill batch, a DDL statement) from one inside the server
 * (I/O, an LWLock) and from one in the benchmark process (seen by none of these).
 */
export class LockSampler {
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly client: pg.Client,
    private readonly recorder: Recorder,
    private readonly everyMs = 20,
    /** Application-name prefix of the client sessions to watch. */
    private readonly appPrefix = 'zdt-',
  ) {}

  start(): void {
    this.done = (async () => {
      while (!this.stopped) {
        const r = await this.client
          .query<{ kind: 'lock' | 'autovacuum' | 'active'; waited: number; app: string; query: string }>(
            `SELECT 'lock' AS kind, extract(epoch FROM clock_timestamp() - w.query_start) * 1000 AS waited,
                    coalesce(nullif(b.application_name, ''), b.backend_type) AS app, b.query
               FROM pg_stat_activity w
               CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid)
               JOIN pg_stat_activity b ON b.pid = bp.pid
              WHERE w.datname = current_database() AND w.application_name LIKE $1 AND w.wait_event_type = 'Lock'
             UNION ALL
             SELECT 'autovacuum', 0, backend_type, query FROM pg_stat_activity
              WHERE datname = current_database() AND backend_type = 'autovacuum worker'
             UNION ALL
             SELECT 'active', extract(epoch FROM clock_timestamp() - query_start) * 1000,
                    coalesce(wait_event_type || ':' || wait_event, 'no wait event (CPU)'), ''
               FROM pg_stat_activity
              WHERE datname = current_database() AND application_name LIKE $1 AND state = 'active'
                AND coalesce(wait_event_type, '') NOT IN ('Lock', 'Client')`,
            [`${this.appPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
          )
          .catch(() => ({ rows: [] as { kind: 'lock' | 'autovacuum' | 'active'; waited: number; app: string; query: string }[] }));
        const stats = this.recorder.current;
        for (const row of r.rows) {
          if (row.kind === 'autovacuum')
            stats.autovacuum.add(
              (row.query ?? '')
                .replace(/^autovacuum:\s*/, '')
                .replace(/\s+/g, ' ')
                .slice(0, 60),
            );
          else if (row.kind === 'lock') stats.lockWait(describeBlocker(row.app, row.query ?? ''), Number(row.waited));
          else stats.otherWait(row.app, Number(row.waited));
        }
        await sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}
