/**
 * PostgreSQL's table-level lock modes, their conflict matrix (from the documentation, "Explicit
 * Locking"), and what each one means for the application.
 */

export type LockMode =
  | 'AccessShareLock'
  | 'RowShareLock'
  | 'RowExclusiveLock'
  | 'ShareUpdateExclusiveLock'
  | 'ShareLock'
  | 'ShareRowExclusiveLock'
  | 'ExclusiveLock'
  | 'AccessExclusiveLock';

interface ModeInfo {
  /** The SQL name, e.g. ACCESS EXCLUSIVE. */
  name: string;
  /** Typical statements that take it. */
  takenBy: string;
  conflicts: LockMode[];
  /** One line for humans: what the application feels while it is held. */
  impact: string;
}

const ALL: LockMode[] = [
  'AccessShareLock',
  'RowShareLock',
  'RowExclusiveLock',
  'ShareUpdateExclusiveLock',
  'ShareLock',
  'ShareRowExclusiveLock',
  'ExclusiveLock',
  'AccessExclusiveLock',
];

export const LOCK_MODES: Record<LockMode, ModeInfo> = {
  AccessShareLock: {
    name: 'ACCESS SHARE',
    takenBy: 'SELECT',
    conflicts: ['AccessExclusiveLock'],
    impact: 'blocks only ACCESS EXCLUSIVE DDL; reads and writes continue',
  },
  RowShareLock: {
    name: 'ROW SHARE',
    takenBy: 'SELECT FOR UPDATE/SHARE',
    conflicts: ['ExclusiveLock', 'AccessExclusiveLock'],
    impact: 'blocks only EXCLUSIVE/ACCESS EXCLUSIVE DDL; reads and writes continue',
  },
  RowExclusiveLock: {
    name: 'ROW EXCLUSIVE',
    takenBy: 'INSERT/UPDATE/DELETE',
    conflicts: ['ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
    impact: 'blocks CREATE INDEX and DDL; reads and writes continue',
  },
  ShareUpdateExclusiveLock: {
    name: 'SHARE UPDATE EXCLUSIVE',
    takenBy: 'VACUUM/ANALYZE/CREATE INDEX CONCURRENTLY',
    conflicts: ['ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
    impact: 'blocks other DDL and VACUUM only; reads and writes continue',
  },
  ShareLock: {
    name: 'SHARE',
    takenBy: 'CREATE INDEX',
    conflicts: ['RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
    impact: 'blocks writes (INSERT/UPDATE/DELETE); reads continue',
  },
  ShareRowExclusiveLock: {
    name: 'SHARE ROW EXCLUSIVE',
    takenBy: 'CREATE TRIGGER/ADD FOREIGN KEY',
    conflicts: ['RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
    impact: 'blocks writes (INSERT/UPDATE/DELETE); reads continue',
  },
  ExclusiveLock: {
    name: 'EXCLUSIVE',
    takenBy: 'REFRESH MATERIALIZED VIEW CONCURRENTLY',
    conflicts: ['RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
    impact: 'blocks writes and SELECT FOR UPDATE; plain reads continue',
  },
  AccessExclusiveLock: {
    name: 'ACCESS EXCLUSIVE',
    takenBy: 'ALTER TABLE/DROP/TRUNCATE',
    conflicts: ALL,
    impact: 'blocks everything: reads (SELECT) and writes',
  },
};

export function isLockMode(mode: string): mode is LockMode {
  return mode in LOCK_MODES;
}

/** The SQL name of a pg_locks mode ("AccessExclusiveLock" → "ACCESS EXCLUSIVE"). */
export function modeName(mode: string): string {
  return isLockMode(mode) ? LOCK_MODES[mode].name : mode;
}

/** The statements a lock in this mode makes wait, e.g. SHARE → INSERT/UPDATE/DELETE, VACUUM/ANALYZE/…, ALTER TABLE/DROP/TRUNCATE. */
export function blockedStatements(mode: string): string[] {
  if (!isLockMode(mode)) return [];
  return LOCK_MODES[mode].conflicts.map((m) => LOCK_MODES[m].takenBy);
}

/** How strong a mode is (index in the usual order), for picking the strongest of several. */
export function strength(mode: string): number {
  return ALL.indexOf(mode as LockMode);
}
