/**
 * postgres.js (`postgres`) on tandem's routing: `sql.begin` on the key's version.
 *
 *   import postgres from 'postgres';
 *   import { postgresRouter } from 'tandem/client/postgres';
 *   const sql = postgres(url);
 *   const db = await postgresRouter({ sql, schema: 'public' });
 *   await db.transaction(userId, async (tx, version) => tx`SELECT * FROM users WHERE id = ${userId}`);
 *
 * The transaction's first statement is `SELECT tandem.use_version('<version>')` (transaction-local:
 * safe behind PgBouncer in transaction mode); the version holds to the end of the transaction,
 * whatever the rollout does meanwhile.
 */
import type { Sql, TransactionSql } from 'postgres';
import type pg from 'pg';
import type { SqlRunner } from '../sql-runner.js';
import { type AdapterOptions, adapterCore, keyedTransactions, type KeyedTransactions, useVersionStatement } from './routed.js';

export interface PostgresRouterOptions extends AdapterOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any postgres.js instance, whatever its custom types
  sql: Sql<any>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PostgresRouter = KeyedTransactions<TransactionSql<any>>;

/** PostgreSQL's OID of `text`. */
const TEXT_OID = 25;

/**
 * The core's statements through postgres.js. Its strings are sent typed as text: postgres.js
 * otherwise serializes a string bound to a `$n::jsonb` parameter with JSON.stringify (a JSON
 * string, not the document), and the core's statements cast text where they need another type.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function postgresRunner(sql: Sql<any>): SqlRunner {
  return async (text, params) => {
    const typed = (params ?? []).map((p) => (typeof p === 'string' ? sql.typed(p, TEXT_OID) : p));
    return [...(await sql.unsafe(text, typed as never[]))] as Record<string, unknown>[];
  };
}

/** LISTEN straight to the server postgres.js connects to (its first host), unless told otherwise. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function listenConfigOf(sql: Sql<any>): pg.ClientConfig | undefined {
  const o = sql.options as { host?: string[]; port?: number[]; user?: string; pass?: unknown; database?: string } | undefined;
  if (!o?.host?.[0]) return undefined;
  return {
    host: o.host[0],
    ...(o.port?.[0] !== undefined ? { port: o.port[0] } : {}),
    ...(o.user ? { user: o.user } : {}),
    ...(typeof o.pass === 'string' ? { password: o.pass } : {}),
    ...(o.database ? { database: o.database } : {}),
  };
}

export async function postgresRouter(opts: PostgresRouterOptions): Promise<PostgresRouter> {
  const { sql, ...rest } = opts;
  const listen = rest.listenConnectionString === undefined && rest.listenConnectionConfig === undefined ? listenConfigOf(sql) : undefined;
  const owned = await adapterCore({ ...rest, ...(listen ? { listenConnectionConfig: listen } : {}) }, postgresRunner(sql));
  return keyedTransactions(owned, async (version, fn) => {
    const result = await sql.begin(async (tx) => {
      await tx.unsafe(useVersionStatement(owned.core, version));
      return fn(tx, version);
    });
    return result as Awaited<ReturnType<typeof fn>>;
  });
}
