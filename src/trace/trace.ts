import { performance } from 'node:perf_hooks';
import type { DropStmt, IndexStmt, Node, ReindexStmt, VacuumStmt } from 'libpg-query';
import type pg from 'pg';
import type { ParsedSql, SqlStatement } from '../convert/parse.js';
import { blockedStatements, LOCK_MODES, isLockMode, modeName } from './locks.js';

/**
 * `tandem trace` core. The file runs statement by statement inside ONE transaction that is
 * always rolled back; after each statement the backend's own locks (pg_locks) and the
 * relfilenode of every user relation are read, giving which locks each statement took first,
 * what they block, which relations were rewritten, and how long each lock was held (a lock taken
 * by statement k is held until the end of the transaction).
 *
 * Inside one transaction a statement that needs a lock the transaction already holds shows no
 * new lock. So on a scratch database (where committing is harmless) a second pass runs each
 * statement in a transaction of its own and commits it, which gives the exact locks of every
 * statement. On a database given with --database-url only the first pass runs: nothing is ever
 * committed there.
 */

export type RelKind = 'table' | 'index' | 'sequence' | 'view' | 'materialized view' | 'partitioned table' | 'partitioned index' | 'other';

export interface TracedLock {
  /** Display name: `table` in public, else `schema.table`. */
  relation: string;
  schema: string;
  name: string;
  kind: RelKind;
  /** pg_locks mode, e.g. AccessExclusiveLock. */
  mode: string;
  /** SQL name, e.g. ACCESS EXCLUSIVE. */
  modeName: string;
  /** What the application feels while it is held. */
  impact: string;
  /** Statements that wait for it (by the lock modes they take). */
  blocks: string[];
  /** The relation is created by the file's transaction: no other session sees it, the lock blocks nobody. */
  newRelation: boolean;
  /** 0-based index of the statement that first took it in the file's transaction. */
  acquiredBy: number;
  /** From the start of that statement to the end of the transaction. */
  heldMs: number;
}

export interface Rewrite {
  relation: string;
  kind: RelKind;
  relfilenodeBefore: number;
  relfilenodeAfter: number;
}

export type StatementStatus = 'traced' | 'skipped' | 'not-traced' | 'failed' | 'not-run';

export interface StatementTrace {
  index: number;
  line: number;
  col: number;
  where: string;
  sql: string;
  status: StatementStatus;
  /** Why it was skipped, not traced, failed or not run. */
  reason?: string;
  sqlstate?: string;
  durationMs?: number;
  /**
   * The locks this statement takes. With `locksPerStatement: "exact"`, all of them, even those
   * an earlier statement had already taken (`acquiredBy` then names that statement); with
   * "first-taken", only the locks it took first.
   */
  locks: TracedLock[];
  /** Whether `locks` lists every lock of the statement ("exact") or only those it took first. */
  locksComplete: boolean;
  /** True when a table (or index) got new storage: the statement rewrote it. */
  rewrite: boolean;
  rewrites: Rewrite[];
  created: string[];
  dropped: string[];
}

export interface TraceReport {
  file: string;
  /** "exact": each statement was also run alone (scratch database); "first-taken": see StatementTrace.locks. */
  locksPerStatement: 'exact' | 'first-taken';
  statements: StatementTrace[];
  /** Every lock the file's transaction held at its end, with who took it and for how long. */
  locks: TracedLock[];
  /** From the first statement to the end of the transaction (then rolled back). */
  totalMs: number;
  rolledBack: boolean;
}

export interface TraceOptions {
  /** lock_timeout for the traced statements (ms): never queue the application behind the trace. */
  lockTimeoutMs?: number;
  /**
   * Also run each statement alone in its own committed transaction, for exact per-statement
   * locks. ONLY on a scratch database: this commits the file's changes.
   */
  isolate?: boolean;
}

interface RelInfo {
  schema: string;
  name: string;
  kind: RelKind;
  relfilenode: number;
}

const KINDS: Record<string, RelKind> = {
  r: 'table',
  i: 'index',
  S: 'sequence',
  v: 'view',
  m: 'materialized view',
  p: 'partitioned table',
  I: 'partitioned index',
};

async function relations(client: pg.Client): Promise<Map<number, RelInfo>> {
  const r = await client.query<{ oid: string; schema: string; name: string; relkind: string; relfilenode: string }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, c.relfilenode::int8 AS relfilenode
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'`,
  );
  const out = new Map<number, RelInfo>();
  for (const row of r.rows) {
    out.set(Number(row.oid), { schema: row.schema, name: row.name, kind: KINDS[row.relkind] ?? 'other', relfilenode: Number(row.relfilenode) });
  }
  return out;
}

async function heldLocks(client: pg.Client): Promise<{ oid: number; mode: string }[]> {
  const r = await client.query<{ oid: string; mode: string }>(
    `SELECT l.relation::int8 AS oid, l.mode
       FROM pg_locks l
      WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return r.rows.map((row) => ({ oid: Number(row.oid), mode: row.mode }));
}

function display(rel: { schema: string; name: string }): string {
  return rel.schema === 'public' ? rel.name : `${rel.schema}.${rel.name}`;
}

function get<T>(node: Node, key: string): T | undefined {
  return (node as Record<string, unknown>)[key] as T | undefined;
}

/** Statements that are not run: transaction control, and what PostgreSQL refuses inside a transaction. */
export function notTraceable(stmt: SqlStatement): { status: 'skipped' | 'not-traced'; reason: string } | undefined {
  const n = stmt.node;
  const noTx = (what: string) => ({ status: 'not-traced' as const, reason: `not traced: cannot run inside a transaction${what ? ` (${what})` : ''}` });
  switch (stmt.kind) {
    case 'TransactionStmt':
      return { status: 'skipped', reason: 'transaction control: the trace runs the whole file in one transaction and rolls it back' };
    case 'IndexStmt': {
      const s = get<IndexStmt>(n, 'IndexStmt')!;
      if (s.concurrent) {
        return noTx(`CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE on ${s.relation?.relname ?? 'the table'}: ${LOCK_MODES.ShareUpdateExclusiveLock.impact}`);
      }
      return undefined;
    }
    case 'DropStmt':
      return get<DropStmt>(n, 'DropStmt')!.concurrent
        ? noTx(`DROP INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE on the table: ${LOCK_MODES.ShareUpdateExclusiveLock.impact}`)
        : undefined;
    case 'ReindexStmt': {
      const s = get<ReindexStmt>(n, 'ReindexStmt')!;
      const concurrently = (s.params ?? []).some((p) => get<{ defname?: string }>(p, 'DefElem')?.defname === 'concurrently');
      return concurrently ? noTx(`REINDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE: ${LOCK_MODES.ShareUpdateExclusiveLock.impact}`) : undefined;
    }
    case 'VacuumStmt': {
      const s = get<VacuumStmt>(n, 'VacuumStmt')!;
      if (!s.is_vacuumcmd) return undefined; // ANALYZE runs in a transaction
      const full = (s.options ?? []).some((p) => get<{ defname?: string }>(p, 'DefElem')?.defname === 'full');
      return noTx(
        full
          ? `VACUUM FULL takes ACCESS EXCLUSIVE and rewrites the table: ${LOCK_MODES.AccessExclusiveLock.impact}`
          : `VACUUM takes SHARE UPDATE EXCLUSIVE: ${LOCK_MODES.ShareUpdateExclusiveLock.impact}`,
      );
    }
    case 'CreatedbStmt':
    case 'DropdbStmt':
    case 'AlterSystemStmt':
    case 'CreateTableSpaceStmt':
    case 'DropTableSpaceStmt':
    case 'CreateSubscriptionStmt':
    case 'DropSubscriptionStmt':
      return noTx('');
    case 'ClusterStmt':
      return get<{ relation?: unknown }>(n, 'ClusterStmt')?.relation ? undefined : noTx('CLUSTER without a table');
    case 'DiscardStmt':
      return get<{ target?: string }>(n, 'DiscardStmt')?.target === 'DISCARD_ALL' ? noTx('DISCARD ALL') : undefined;
    case 'AlterTableStmt': {
      const cmds = get<{ cmds?: Node[] }>(n, 'AlterTableStmt')?.cmds ?? [];
      const detach = cmds.some((c) => {
        const cmd = get<{ subtype?: string; def?: Node }>(c, 'AlterTableCmd');
        return cmd?.subtype === 'AT_DetachPartition' && cmd.def && get<{ concurrent?: boolean }>(cmd.def, 'PartitionCmd')?.concurrent;
      });
      return detach ? noTx('DETACH PARTITION CONCURRENTLY') : undefined;
    }
    case 'CopyStmt':
      return get<{ filename?: string }>(n, 'CopyStmt')?.filename === undefined
        ? { status: 'not-traced', reason: 'not traced: COPY FROM STDIN / TO STDOUT needs data from the client' }
        : undefined;
    default:
      return undefined;
  }
}

interface LockObs {
  oid: number;
  mode: string;
  rel: RelInfo;
}

interface Observation {
  after: Map<number, RelInfo>;
  /** Locks held now that were not in `known`. */
  locks: LockObs[];
  rewrites: Rewrite[];
  created: string[];
  dropped: string[];
}

async function observe(client: pg.Client, before: Map<number, RelInfo>, known: Set<string>): Promise<Observation> {
  const after = await relations(client);
  const locks: LockObs[] = [];
  for (const l of await heldLocks(client)) {
    const key = `${l.oid}:${l.mode}`;
    if (known.has(key)) continue;
    const rel = after.get(l.oid) ?? before.get(l.oid);
    if (!rel) continue; // a system catalog
    known.add(key);
    locks.push({ ...l, rel });
  }
  const rewrites: Rewrite[] = [];
  const dropped: string[] = [];
  const created: string[] = [];
  for (const [oid, b] of before) {
    const a = after.get(oid);
    if (!a) dropped.push(display(b));
    else if (a.relfilenode !== b.relfilenode && a.relfilenode !== 0 && b.relfilenode !== 0) {
      rewrites.push({ relation: display(a), kind: a.kind, relfilenodeBefore: b.relfilenode, relfilenodeAfter: a.relfilenode });
    }
  }
  for (const [oid, a] of after) if (!before.has(oid)) created.push(display(a));
  return { after, locks, rewrites, created, dropped };
}

async function setLockTimeout(client: pg.Client, opts: TraceOptions): Promise<void> {
  if (opts.lockTimeoutMs !== undefined) await client.query(`SET LOCAL lock_timeout = ${Math.max(0, Math.floor(opts.lockTimeoutMs))}`);
}

interface Failure {
  reason: string;
  sqlstate?: string;
}

function failure(err: unknown, opts: TraceOptions): Failure {
  const e = err as Error & { code?: string };
  const reason = e.code === '55P03' ? `${e.message}: another session holds a conflicting lock (lock_timeout ${opts.lockTimeoutMs ?? 0} ms)` : e.message;
  return { reason, ...(e.code ? { sqlstate: e.code } : {}) };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

const lockKey = (rel: RelInfo, mode: string) => `${rel.schema}.${rel.name}:${mode}`;

/** Pass 1: the whole file in one transaction, rolled back. */
async function fileTransaction(client: pg.Client, parsed: ParsedSql, statements: StatementTrace[], opts: TraceOptions) {
  const firstTaken = new Map<string, { acquiredBy: number; lock: LockObs }>();
  const startedAt = new Map<number, number>();
  const createdNames = new Set<string>();
  let firstStart: number | undefined;
  let end = performance.now();
  let failedAt: number | undefined;
  await client.query('BEGIN');
  try {
    await setLockTimeout(client, opts);
    // Locks the transaction holds before the first statement are not the file's.
    const known = new Set((await heldLocks(client)).map((l) => `${l.oid}:${l.mode}`));
    let before = await relations(client);
    for (const stmt of parsed.statements) {
      const t = statements[stmt.index]!;
      const refused = notTraceable(stmt);
      if (refused) {
        t.status = refused.status;
        t.reason = refused.reason;
        continue;
      }
      const t0 = performance.now();
      firstStart ??= t0;
      startedAt.set(stmt.index, t0);
      try {
        await client.query(stmt.text);
      } catch (err) {
        end = performance.now();
        Object.assign(t, { status: 'failed', durationMs: round(end - t0) }, failure(err, opts));
        failedAt = stmt.index;
        break;
      }
      end = performance.now();
      t.status = 'traced';
      t.durationMs = round(end - t0);
      const o = await observe(client, before, known);
      for (const c of o.created) createdNames.add(c);
      for (const l of o.locks) if (!firstTaken.has(lockKey(l.rel, l.mode))) firstTaken.set(lockKey(l.rel, l.mode), { acquiredBy: stmt.index, lock: l });
      Object.assign(t, { rewrites: o.rewrites, rewrite: o.rewrites.length > 0, created: o.created, dropped: o.dropped });
      before = o.after;
    }
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
  return { firstTaken, startedAt, createdNames, firstStart, end, failedAt };
}

/** Pass 2 (scratch database only): each statement alone in its own transaction, COMMITTED. */
async function eachStatementAlone(client: pg.Client, parsed: ParsedSql, upTo: number, opts: TraceOptions): Promise<Map<number, LockObs[]>> {
  const out = new Map<number, LockObs[]>();
  let before = await relations(client);
  for (const stmt of parsed.statements) {
    if (stmt.index >= upTo) break;
    if (notTraceable(stmt)) continue;
    await client.query('BEGIN');
    try {
      await setLockTimeout(client, opts);
      const known = new Set((await heldLocks(client)).map((l) => `${l.oid}:${l.mode}`));
      await client.query(stmt.text);
      const o = await observe(client, before, known);
      out.set(stmt.index, o.locks);
      await client.query('COMMIT');
      before = await relations(client);
    } catch {
      await client.query('ROLLBACK').catch(() => undefined);
      break; // the first pass reports failures; the statements after this one keep their first-pass locks
    }
  }
  return out;
}

/**
 * Trace the statements on `client` (not in a transaction). The file's transaction is always
 * rolled back; with `isolate`, each statement is then also run alone and committed (scratch
 * databases only).
 */
export async function traceStatements(client: pg.Client, parsed: ParsedSql, opts: TraceOptions = {}): Promise<TraceReport> {
  const statements: StatementTrace[] = parsed.statements.map((s) => ({
    index: s.index,
    line: s.line,
    col: s.col,
    where: `${parsed.source.file}:${s.line}:${s.col}`,
    sql: s.text,
    status: 'not-run',
    locks: [],
    locksComplete: false,
    rewrite: false,
    rewrites: [],
    created: [],
    dropped: [],
  }));
  const pass1 = await fileTransaction(client, parsed, statements, opts);
  const heldMs = (acquiredBy: number) => pass1.end - pass1.startedAt.get(acquiredBy)!;
  const toLock = (l: LockObs, acquiredBy: number): TracedLock => ({
    relation: display(l.rel),
    schema: l.rel.schema,
    name: l.rel.name,
    kind: l.rel.kind,
    mode: l.mode,
    modeName: modeName(l.mode),
    impact: pass1.createdNames.has(display(l.rel))
      ? 'new relation of this transaction: no other session sees it, blocks nobody'
      : isLockMode(l.mode)
        ? LOCK_MODES[l.mode].impact
        : '',
    blocks: blockedStatements(l.mode),
    newRelation: pass1.createdNames.has(display(l.rel)),
    acquiredBy,
    heldMs: round(heldMs(acquiredBy)),
  });
  const locks = [...pass1.firstTaken.values()].map((f) => toLock(f.lock, f.acquiredBy));
  let alone: Map<number, LockObs[]> | undefined;
  if (opts.isolate) alone = await eachStatementAlone(client, parsed, pass1.failedAt ?? statements.length, opts);
  for (const t of statements) {
    if (t.status !== 'traced') continue;
    const own = alone?.get(t.index);
    if (own) {
      t.locks = own.map((l) => toLock(l, pass1.firstTaken.get(lockKey(l.rel, l.mode))?.acquiredBy ?? t.index));
      t.locksComplete = true;
    } else {
      t.locks = locks.filter((l) => l.acquiredBy === t.index);
      // Nothing was held before the first statement: its first-taken locks are all its locks.
      t.locksComplete = !statements.some((o) => o.index < t.index && o.status === 'traced');
    }
  }
  return {
    file: parsed.source.file,
    locksPerStatement: alone && statements.every((t) => t.status !== 'traced' || t.locksComplete) ? 'exact' : 'first-taken',
    statements,
    locks,
    totalMs: pass1.firstStart === undefined ? 0 : round(pass1.end - pass1.firstStart),
    rolledBack: true,
  };
}
