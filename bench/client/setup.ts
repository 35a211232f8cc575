/** The benchmark's scratch database: a `users` table and a migration in progress (rename + added column). */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrlFor } from '../../src/db/connection.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/db/embedded.js';
import { start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { ident } from '../../src/sql/ident.js';

export interface Scratch {
  url: string;
  engine: pg.Client;
  newVersion: string;
  drop(): Promise<void>;
}

export async function scratchDatabase(serverUrl: string | undefined, rows: number, log: (m: string) => void): Promise<Scratch> {
  let server: EmbeddedServer | undefined;
  if (!serverUrl) {
    log('starting an embedded PostgreSQL');
    server = await startEmbeddedPostgres();
  }
  const base = serverUrl ?? server!.url;
  const name = `client_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${ident(name)}`);
  const url = databaseUrlFor(base, name);
  const engine = new pg.Client({ connectionString: url, application_name: 'bench-engine' });
  await engine.connect();
  await engine.query(`CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL)`);
  await engine.query(`INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, $1::int) g`, [rows]);
  const migration = parseMigration(
    {
      name: '0001_bench',
      operations: [
        { add_column: { table: 'users', up: "'free'", column: { name: 'plan', type: 'text', nullable: true } } },
        { rename_column: { table: 'users', from: 'name', to: 'full_name' } },
      ],
    },
    undefined,
  );
  log(`database ${name}: ${rows} rows; starting the migration`);
  const started = await start(engine, migration, { lockTimeoutMs: 1_000, batchSize: 5_000 });
  return {
    url,
    engine,
    newVersion: started.versionSchema,
    async drop() {
      await engine.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`).catch(() => undefined);
      await admin.end().catch(() => undefined);
      await server?.stop();
    },
  };
}
