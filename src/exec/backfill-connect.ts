import pg from 'pg';

/**
 * A new connection with the same parameters as `client` (host, port, user, password, database,
 * ssl): each backfill worker and the vacuum-behind run on a connection of their own. Nothing of
 * the parameters is logged.
 */
export async function openSibling(client: pg.Client, applicationName: string): Promise<pg.Client> {
  const params = (client as unknown as { connectionParameters: pg.ClientConfig }).connectionParameters;
  const sibling = new pg.Client({ ...params, application_name: applicationName });
  // A dropped connection would otherwise surface as an unhandled 'error' event.
  sibling.on('error', () => undefined);
  await sibling.connect();
  return sibling;
}
