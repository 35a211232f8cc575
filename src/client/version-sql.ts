import { ident, literal } from '../sql/ident.js';

/**
 * The statements that put a transaction on a version, sent in the same round trip as BEGIN (so
 * routing adds no round trip). They are transaction-local, so they are safe behind PgBouncer in
 * transaction mode and leave nothing on the connection.
 *
 * Two equivalent forms: 'set-local' (the default) sets search_path and tandem.version with two
 * SET LOCAL utility statements; 'use-version' calls `SELECT tandem.use_version('…')`, which does
 * exactly the same through set_config(…, true). SET LOCAL is measurably cheaper per transaction
 * (no function call, no result row: see bench/client) and needs no privilege on the tandem
 * schema. tandem.version tells the sync trigger which version is writing.
 */
export type VersionStatement = 'set-local' | 'use-version';

export function useVersionSql(version: string, form: VersionStatement = 'set-local'): string {
  return form === 'use-version' ? `SELECT tandem.use_version(${literal(version)})` : `SET LOCAL search_path TO ${ident(version)}; SET LOCAL tandem.version TO ${literal(version)}`;
}

export function beginOnVersionSql(version: string, form: VersionStatement = 'set-local'): string {
  return `BEGIN; ${useVersionSql(version, form)}`;
}

/** Session-level pinning of a connection (not for PgBouncer in transaction mode: the server connection changes). */
export function pinSessionSql(version: string): string {
  return `SET search_path TO ${ident(version)}; SET tandem.version TO ${literal(version)}`;
}

/** A cache of the begin statement per version (the router builds it once per version, not per transaction). */
export function beginStatements(form: VersionStatement = 'set-local'): (version: string) => string {
  const cache = new Map<string, string>();
  return (version) => {
    let sql = cache.get(version);
    if (sql === undefined) {
      if (cache.size > 64) cache.clear();
      sql = beginOnVersionSql(version, form);
      cache.set(version, sql);
    }
    return sql;
  };
}
