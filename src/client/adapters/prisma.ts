/**
 * Prisma (6.16+ / 7, through its node-postgres driver adapter `@prisma/adapter-pg`) on tandem's
 * routing: an interactive `$transaction` on the key's version.
 *
 * Prisma qualifies every table with the adapter's schema (`"public"."users"`), so a search_path
 * does not move its queries: each version needs its own PrismaClient, built on an adapter whose
 * `schema` is that version schema — and, when the versions' shapes differ, generated from that
 * version's schema.prisma. `clientFor(version)` makes it; the helper keeps one per version.
 *
 *   import { PrismaPg } from '@prisma/adapter-pg';
 *   import { prismaRouter } from 'tandem/client/prisma';
 *   const db = await prismaRouter({
 *     pool,                                                    // the pg.Pool the adapters share
 *     clientFor: (version) => version === 'public' ? new OldClient({ adapter: new PrismaPg(pool, { schema: version }) })
 *                                                  : new NewClient({ adapter: new PrismaPg(pool, { schema: version }) }),
 *   });
 *   await db.transaction(userId, (tx, version) => …);
 *
 * The transaction's first statement is still `SELECT tandem.use_version('<version>')`: it tells
 * the sync trigger which version is writing.
 */
import type pg from 'pg';
import { pgRunner } from '../sql-runner.js';
import { type AdapterOptions, adapterCore, keyedTransactions, type KeyedTransactions, useVersionStatement } from './routed.js';

/** What the helper needs of a PrismaClient (any generated client has it). */
export interface PrismaClientLike<Tx> {
  $transaction<R>(fn: (tx: Tx) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
  $disconnect(): Promise<void>;
}

export interface PrismaTransactionLike {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

export interface PrismaRouterOptions<Tx extends PrismaTransactionLike> extends AdapterOptions {
  /** The pool the state is read and health written through (unless `router` is given): the one under the PrismaPg adapters. */
  pool?: pg.Pool;
  /** The PrismaClient of a version schema (called once per version; the helper keeps it, and disconnects it on close). */
  clientFor: (version: string) => PrismaClientLike<Tx>;
  /** Prisma's interactive-transaction limits. */
  transactionOptions?: { maxWait?: number; timeout?: number };
}

export type PrismaRouter<Tx> = KeyedTransactions<Tx>;

export async function prismaRouter<Tx extends PrismaTransactionLike>(opts: PrismaRouterOptions<Tx>): Promise<PrismaRouter<Tx>> {
  const { pool, clientFor, transactionOptions, ...rest } = opts;
  if (!rest.router && !pool) throw new TypeError('prismaRouter needs `pool` (the pg.Pool of the PrismaPg adapters) or `router`');
  const listen = pool && rest.listenConnectionString === undefined && rest.listenConnectionConfig === undefined ? { listenConnectionConfig: pool.options as pg.ClientConfig } : {};
  const owned = await adapterCore({ ...rest, ...listen }, pool ? pgRunner(pool) : () => Promise.reject(new Error('unused: the router reads the state')));
  const clients = new Map<string, PrismaClientLike<Tx>>();
  const client = (version: string) => {
    let c = clients.get(version);
    if (!c) clients.set(version, (c = clientFor(version)));
    return c;
  };
  const keyed = keyedTransactions<Tx>(owned, (version, fn) =>
    client(version).$transaction(async (tx) => {
      await tx.$executeRawUnsafe(useVersionStatement(owned.core, version));
      return fn(tx, version);
    }, transactionOptions),
  );
  return {
    ...keyed,
    close: async () => {
      await Promise.all([...clients.values()].map((c) => c.$disconnect().catch(() => undefined)));
      clients.clear();
      await keyed.close();
    },
  };
}
