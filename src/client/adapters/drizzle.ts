/**
 * Drizzle (node-postgres driver) on tandem's routing: `db.transaction()` on the key's version.
 *
 *   import { drizzle } from 'drizzle-orm/node-postgres';
 *   import { drizzleRouter } from 'tandem/client/drizzle';
 *   const db = drizzle(pool);
 *   const routed = await drizzleRouter({ db, schema: 'public' });
 *   await routed.transaction(userId, (tx, version) => tx.select().from(version === routed.core.state().newVersion ? usersV2 : users));
 *
 * Tables declared with `pgTable` (not `pgSchema(…).table`) are unqualified in the SQL, so the
 * transaction's first statement, `SELECT tandem.use_version('<version>')`, decides which
 * version's views they name. The state is read and the health written through the driver's own
 * pool (`db.$client`), and changes are heard by LISTEN on a connection of the same settings.
 */
import { sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { pgRunner } from '../sql-runner.js';
import { type AdapterOptions, adapterCore, keyedTransactions, type KeyedTransactions, useVersionStatement } from './routed.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any schema the app declared
export type DrizzleDatabase = NodePgDatabase<any> & { $client: pg.Pool | pg.Client };

export interface DrizzleRouterOptions<DB extends DrizzleDatabase> extends AdapterOptions {
  db: DB;
}

/** The transaction object Drizzle gives to `db.transaction(fn)`. */
export type DrizzleTransaction<DB extends DrizzleDatabase> = Parameters<Parameters<DB['transaction']>[0]>[0];

export type DrizzleRouter<DB extends DrizzleDatabase> = KeyedTransactions<DrizzleTransaction<DB>>;

export async function drizzleRouter<DB extends DrizzleDatabase>(opts: DrizzleRouterOptions<DB>): Promise<DrizzleRouter<DB>> {
  const { db, ...rest } = opts;
  const client = db.$client;
  const clientOptions = (client as { options?: pg.ClientConfig }).options;
  const listen = rest.listenConnectionString === undefined && rest.listenConnectionConfig === undefined && clientOptions ? { listenConnectionConfig: clientOptions } : {};
  const owned = await adapterCore({ ...rest, ...listen }, pgRunner(client));
  return keyedTransactions<DrizzleTransaction<DB>>(owned, (version, fn) =>
    db.transaction(async (tx) => {
      // The statement quotes the version as a literal (src/sql/ident.ts): no parameter needed.
      await tx.execute(sql.raw(useVersionStatement(owned.core, version)));
      return fn(tx as DrizzleTransaction<DB>, version);
    }),
  );
}
