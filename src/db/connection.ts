import pg from 'pg';
import { InvalidInputError } from '../errors.js';

export interface ConnectionOptions {
  databaseUrl?: string | undefined;
}

/** `--database-url`, else TANDEM_DATABASE_URL, else DATABASE_URL. */
export function resolveDatabaseUrl(opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return opts.databaseUrl ?? env['TANDEM_DATABASE_URL'] ?? env['DATABASE_URL'];
}

/** A connection string safe to print: no password, no query parameters. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    return '<unparseable connection string>';
  }
}

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
