import pg from 'pg';
import { ConnectionError } from '../errors.js';
import { checkDatabaseUrl, redactUrl } from './url.js';

export { type ConnectionOptions, redactUrl, resolveDatabaseUrl } from './url.js';

export async function connect(url: string, applicationName = 'tandem'): Promise<pg.Client> {
  checkDatabaseUrl(url);
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  try {
    await client.connect();
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ConnectionError(
      `cannot connect to ${redactUrl(url)}: ${(err as Error).message}\n  hint: check --database-url (or TANDEM_DATABASE_URL / DATABASE_URL) and that the server is up`,
      { target: redactUrl(url), ...(code ? { sqlstate: code } : {}) },
      { cause: err },
    );
  }
  // A dropped connection would otherwise surface as an unhandled 'error' event.
  client.on('error', () => undefined);
  return client;
}

export function databaseUrlFor(base: string, database: string): string {
  const u = new URL(base);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}
