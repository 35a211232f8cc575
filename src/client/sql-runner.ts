import type pg from 'pg';

/**
 * The one thing the client core needs from a driver: run one statement with positional
 * parameters ($1, $2…) and return its rows. node-postgres, postgres.js (`sql.unsafe(text, params)`),
 * Kysely or Drizzle adapters each provide one; the core never imports a driver for its queries.
 */
export type SqlRunner = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** Anything with node-postgres' `query(text, params)`: a pg.Pool, pg.Client or pg.PoolClient. */
export interface PgQueryable {
  query(text: string, params?: unknown[]): Promise<pg.QueryResult>;
}

export function pgRunner(db: PgQueryable): SqlRunner {
  return async (text, params) => (await db.query(text, params)).rows as Record<string, unknown>[];
}

/** The SQLSTATE of a database error (5 characters), else undefined. */
export function sqlstateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
