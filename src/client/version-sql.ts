import { ident, literal } from '../sql/ident.js';

/**
 * The statements that put a transaction on a version. They are transaction-local (set_config(…,
 * true) / SET LOCAL), so they are safe behind PgBouncer in transaction mode; sent in the same
 * round trip as BEGIN, so routing costs no extra round trip. tandem.use_version also sets
 * `tandem.version`, which tells the sync trigger which version is writing.
 */
export function beginOnVersionSql(version: string, installed = true): string {
  return `BEGIN; ${useVersionSql(version, installed)}`;
}

export function useVersionSql(version: string, installed = true): string {
  // Without the state schema (nothing ever migrated here) there is no tandem.use_version.
  return installed ? `SELECT tandem.use_version(${literal(version)})` : `SET LOCAL search_path TO ${ident(version)}`;
}

/** Session-level pinning of a connection (not for PgBouncer in transaction mode: the server connection changes). */
export function pinSessionSql(version: string): string {
  return `SET search_path TO ${ident(version)}; SELECT set_config('tandem.version', ${literal(version)}, false)`;
}
