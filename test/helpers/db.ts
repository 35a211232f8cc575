import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrlFor } from '../../src/db/connection.js';

export function adminUrl(): string {
  const url = process.env['TANDEM_TEST_DATABASE_URL'];
  if (!url) throw new Error('TANDEM_TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

export interface TestDatabase {
  name: string;
  url: string;
  /** A new connected client; closed by drop(). */
  connect(applicationName?: string): Promise<pg.Client>;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<T>>;
  drop(): Promise<void>;
}

/** Each test gets its own database, dropped afterwards. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tandem_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  await admin.end();
  const url = databaseUrlFor(adminUrl(), name);
  const clients: pg.Client[] = [];
  const main = new pg.Client({ connectionString: url });
  await main.connect();
  clients.push(main);
  return {
    name,
    url,
    async connect(applicationName = 'tandem-test') {
      const c = new pg.Client({ connectionString: url, application_name: applicationName });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    },
    query: (sql, params) => main.query(sql, params as unknown[]),
    async drop() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      const a = new pg.Client({ connectionString: adminUrl() });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
