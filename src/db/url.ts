/** Connection strings: where one comes from, and how to print one. No driver here: the CLI loads this at startup. */

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
