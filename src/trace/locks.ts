/**
 * Lock modes as `tandem trace` sees them: by their pg_locks names (AccessExclusiveLock…). The
 * facts themselves (names, conflict matrix, impact) are the shared table in src/sql/lock-modes.ts.
 */
import { LOCK_MODE_INFO, lockModeInfo, type LockModeInfo, type PgLocksMode, TABLE_LOCK_MODES } from '../sql/lock-modes.js';

export type LockMode = PgLocksMode;

/** The facts of each mode, keyed by its pg_locks name. */
export const LOCK_MODES = Object.fromEntries(TABLE_LOCK_MODES.map((name) => [LOCK_MODE_INFO[name].pgLocks, LOCK_MODE_INFO[name]])) as Record<LockMode, LockModeInfo>;

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
  return LOCK_MODES[mode].conflicts.map((m) => LOCK_MODE_INFO[m].takenBy);
}

/** How strong a mode is (0 for ACCESS SHARE … 7; -1 for another kind of lock), for picking the strongest. */
export function strength(mode: string): number {
  return (lockModeInfo(mode)?.level ?? 0) - 1;
}
