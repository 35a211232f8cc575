/**
 * A node-postgres transaction on one version: BEGIN and the version's setting in one round trip,
 * the caller's work, COMMIT (or ROLLBACK), and the outcome counted for that version's health.
 */
import type pg from 'pg';
import { NON_SQL_ERROR } from './health.js';
import { sqlstateOf } from './sql-runner.js';

export interface TransactionOnVersion {
  pool: pg.Pool;
  version: string;
  /** The statement that begins the transaction on the version (RoutingCore.beginSql). */
  beginSql: string;
  record?: (version: string, ms: number, sqlstate?: string) => void;
}

export async function transactionOnVersion<T>(t: TransactionOnVersion, fn: (client: pg.PoolClient, version: string) => Promise<T>): Promise<T> {
  const started = performance.now();
  const client = await t.pool.connect().catch((err: unknown) => {
    t.record?.(t.version, performance.now() - started, sqlstateOf(err) ?? NON_SQL_ERROR);
    throw err;
  });
  let broken: Error | undefined;
  try {
    await client.query(t.beginSql);
    const result = await fn(client, t.version);
    await client.query('COMMIT');
    t.record?.(t.version, performance.now() - started);
    return result;
  } catch (err) {
    t.record?.(t.version, performance.now() - started, sqlstateOf(err) ?? NON_SQL_ERROR);
    // A connection that cannot even roll back is not given back to the pool.
    await client.query('ROLLBACK').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
    throw err;
  } finally {
    client.release(broken);
  }
}
