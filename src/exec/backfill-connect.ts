import pg from 'pg';
import { sameConnectionSettings } from './lock-retry.js';

/**
 * A new connection with the same parameters as `client` (host, port, user, password, database,
 * ssl): each backfill worker and the vacuum-behind run on a connection of their own. Nothing of
 * the parameters is logged.
 */
export async function openSibling(client: pg.Client, applicationName: string): Promise<pg.Client> {
  // (not a spread of connectionParameters: node-postgres keeps the password there non-enumerable)
  const sibling = new pg.Client({ ...sameConnectionSettings(client), application_name: applicationName });
  // A dropped connection would otherwise surface as an unhandled 'error' event.
  sibling.on('error', () => undefined);
  await sibling.connect();
  return sibling;
}
