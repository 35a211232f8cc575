/**
 * Kysely on tandem's routing: `db.transaction()` on the key's version.
 *
 *   import { Kysely, PostgresDialect } from 'kysely';
 *   import { kyselyRouter } from 'tandem/client/kysely';
 *   const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
 *   const routed = await kyselyRouter({ db, schema: 'public', listenConnectionString: url });
 *   await routed.transaction(userId, (trx, version) => trx.selectFrom('users').selectAll().execute());
 *
 * Table names stay unqualified in the queries: `SELECT tandem.use_version('<version>')`, the
 * transaction's first statement, puts the version schema on its search_path. (Kysely cannot hand
 * over its pool: give `listenConnectionString` for change notifications within milliseconds, else
 * changes are learnt by polling, every `pollIntervalMs`.)
 */
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { SqlRunner } from '../sql-runner.js';
import { type AdapterOptions, adapterCore, keyedTransactions, type KeyedTransactions, useVersionStatement } from './routed.js';

export interface KyselyRouterOptions<DB> extends AdapterOptions {
  db: Kysely<DB>;
}

export type KyselyRouter<DB> = KeyedTransactions<Transaction<DB>>;

export function kyselyRunner<DB>(db: Kysely<DB>): SqlRunner {
  return async (text, params) => (await db.executeQuery(CompiledQuery.raw(text, params ?? []))).rows as Record<string, unknown>[];
}

export async function kyselyRouter<DB>(opts: KyselyRouterOptions<DB>): Promise<KyselyRouter<DB>> {
  const { db, ...rest } = opts;
  const owned = await adapterCore(rest, kyselyRunner(db));
  return keyedTransactions<Transaction<DB>>(owned, (version, fn) =>
    db.transaction().execute(async (trx) => {
      await trx.executeQuery(CompiledQuery.raw(useVersionStatement(owned.core, version)));
      return fn(trx, version);
    }),
  );
}
