/** Connection strings: where one comes from, and how to print one. No driver here: the CLI loads this at startup. */
import { InvalidInputError } from '../errors.js';

export interface ConnectionOptions {
  databaseUrl?: string | undefined;
}

/** `--database-url`, else TANDEM_DATABASE_URL, else DATABASE_URL; checked to be a PostgreSQL URL. */
export function resolveDatabaseUrl(opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const [url, source] =
    opts.databaseUrl !== undefined
      ? [opts.databaseUrl, '--database-url']
      : env['TANDEM_DATABASE_URL'] !== undefined
        ? [env['TANDEM_DATABASE_URL'], 'TANDEM_DATABASE_URL']
        : [env['DATABASE_URL'], 'DATABASE_URL'];
  if (url !== undefined) checkDatabaseUrl(url, source);
  return url;
}

const postgresProtocols = ['postgres:', 'postgresql:', 'socket:'];

/**
 * A connection string the driver can use: a postgres:// (or postgresql://, socket:) URL. Anything
 * else is a usage error (exit 2), told without repeating the string, which may hold a password.
 */
export function checkDatabaseUrl(url: string, source = 'the connection string'): void {
  const usage = (problem: string) =>
    new InvalidInputError(`${source}: ${problem}`, {}, 'use postgres://user:password@host:port/database (percent-encode special characters in the user and password)', {
      code: 'invalid-connection-url',
    });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usage('not a valid connection URL');
  }
  if (!postgresProtocols.includes(parsed.protocol)) throw usage(`"${parsed.protocol}//" is not a PostgreSQL connection URL`);
  try {
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
    decodeURIComponent(parsed.pathname);
  } catch {
    throw usage('the user, password or database name has an invalid percent-encoding');
  }
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
