import pg from 'pg';
import { InvalidInputError } from '../errors.js';
import { redactUrl } from './url.js';

export { type ConnectionOptions, redactUrl, resolveDatabaseUrl } from './url.js';

export async function connect(url: string, applicationName = 'tandem'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  try {
    await client.connect();
  } catch (err) {
    throw new InvalidInputError(`cannot connect to ${redactUrl(url)}: ${(err as Error).message}`, {}, 'check --database-url', {
      cause: err,
    });
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
