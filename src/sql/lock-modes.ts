/**
 * PostgreSQL's eight table-level lock modes, their conflict matrix (the documentation's "Explicit
 * Locking" table) and what each one means for the application. The one table the plan (an
 * action's lock), the executor (which steps may wait longer), lint and trace all read.
 */

/** In PostgreSQL's own order (lmgr numbering 1–8): weakest first. */
export const TABLE_LOCK_MODES = ['ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'] as const;

/** A mode by its SQL name (LOCK TABLE … IN <name> MODE). */
export type TableLockMode = (typeof TABLE_LOCK_MODES)[number];

/** A mode by its pg_locks name. */
export type PgLocksMode =
  'AccessShareLock' | 'RowShareLock' | 'RowExclusiveLock' | 'ShareUpdateExclusiveLock' | 'ShareLock' | 'ShareRowExclusiveLock' | 'ExclusiveLock' | 'AccessExclusiveLock';

export interface LockModeInfo {
  name: TableLockMode;
  /** As pg_locks.mode shows it. */
  pgLocks: PgLocksMode;
  /** 1 (ACCESS SHARE) … 8 (ACCESS EXCLUSIVE). */
  level: number;
  /** Typical statements that take it. */
  takenBy: string;
  conflicts: readonly TableLockMode[];
  /** Whether a plain SELECT (ACCESS SHARE) waits behind it. */
  blocksReads: boolean;
  /** Whether INSERT/UPDATE/DELETE (ROW EXCLUSIVE) wait behind it. */
  blocksWrites: boolean;
  /** One line for humans: what the application feels while it is held. */
  impact: string;
}

const ALL = TABLE_LOCK_MODES;

const INFO: Record<TableLockMode, Omit<LockModeInfo, 'name' | 'level' | 'blocksReads' | 'blocksWrites'>> = {
  'ACCESS SHARE': {
    pgLocks: 'AccessShareLock',
    takenBy: 'SELECT',
    conflicts: ['ACCESS EXCLUSIVE'],
    impact: 'blocks only ACCESS EXCLUSIVE DDL; reads and writes continue',
  },
  'ROW SHARE': {
    pgLocks: 'RowShareLock',
    takenBy: 'SELECT FOR UPDATE/SHARE',
    conflicts: ['EXCLUSIVE', 'ACCESS EXCLUSIVE'],
    impact: 'blocks only EXCLUSIVE/ACCESS EXCLUSIVE DDL; reads and writes continue',
  },
  'ROW EXCLUSIVE': {
    pgLocks: 'RowExclusiveLock',
    takenBy: 'INSERT/UPDATE/DELETE',
    conflicts: ['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
    impact: 'blocks CREATE INDEX and DDL; reads and writes continue',
  },
  'SHARE UPDATE EXCLUSIVE': {
    pgLocks: 'ShareUpdateExclusiveLock',
    takenBy: 'VACUUM/ANALYZE/CREATE INDEX CONCURRENTLY',
    conflicts: ['SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
    impact: 'blocks other DDL and VACUUM only; reads and writes continue',
  },
  SHARE: {
    pgLocks: 'ShareLock',
    takenBy: 'CREATE INDEX',
    conflicts: ['ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
    impact: 'blocks writes (INSERT/UPDATE/DELETE); reads continue',
  },
  'SHARE ROW EXCLUSIVE': {
    pgLocks: 'ShareRowExclusiveLock',
    takenBy: 'CREATE TRIGGER/ADD FOREIGN KEY',
    conflicts: ['ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
    impact: 'blocks writes (INSERT/UPDATE/DELETE); reads continue',
  },
  EXCLUSIVE: {
    pgLocks: 'ExclusiveLock',
    takenBy: 'REFRESH MATERIALIZED VIEW CONCURRENTLY',
    conflicts: ['ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
    impact: 'blocks writes and SELECT FOR UPDATE; plain reads continue',
  },
  'ACCESS EXCLUSIVE': {
    pgLocks: 'AccessExclusiveLock',
    takenBy: 'ALTER TABLE/DROP/TRUNCATE',
    conflicts: ALL,
    impact: 'blocks everything: reads (SELECT) and writes',
  },
};

/** Every mode with its facts, weakest first; blocksReads/blocksWrites follow from the matrix. */
export const LOCK_MODE_INFO: Record<TableLockMode, LockModeInfo> = Object.fromEntries(
  ALL.map((name, i) => [
    name,
    { name, level: i + 1, ...INFO[name], blocksReads: INFO[name].conflicts.includes('ACCESS SHARE'), blocksWrites: INFO[name].conflicts.includes('ROW EXCLUSIVE') },
  ]),
) as Record<TableLockMode, LockModeInfo>;

const BY_PG_LOCKS = new Map<string, LockModeInfo>(Object.values(LOCK_MODE_INFO).map((m) => [m.pgLocks, m]));

export function isTableLockMode(mode: string): mode is TableLockMode {
  return (ALL as readonly string[]).includes(mode);
}

/** The facts of a mode given by its SQL name or its pg_locks name; undefined for anything else ('none'). */
export function lockModeInfo(mode: string): LockModeInfo | undefined {
  return isTableLockMode(mode) ? LOCK_MODE_INFO[mode] : BY_PG_LOCKS.get(mode);
}

export function conflicts(a: TableLockMode, b: TableLockMode): boolean {
  return LOCK_MODE_INFO[a].conflicts.includes(b);
}

/**
 * Whether application queries queue behind a statement waiting for (or holding) this mode: it
 * conflicts with plain reads or with writes. 'none' and unknown modes do not.
 */
export function blocksTraffic(mode: string): boolean {
  const info = lockModeInfo(mode);
  return info !== undefined && (info.blocksReads || info.blocksWrites);
}
