/**
 * How fast `tandem verify` walks a table, against a plain `SELECT count(*)` scan of the same table
 * in the same run (the machine may be busy: the ratio is what compares across runs):
 *
 *   npm run bench:verify                                 # 1M rows, embedded PostgreSQL
 *   npm run bench:verify -- --rows 200000 --database-url postgres://postgres@127.0.0.1:5432/postgres
 *
 * A scratch database gets users(id bigint, email text) with --rows rows, a migration (up =
 * lower(email), down = upper(email)) is started (backfill included), one row in the middle is
 * corrupted with the sync trigger bypassed (session_replication_role = replica), and verify must
 * name exactly that key: exit 1 otherwise. Verify runs twice, without and with --checksums (md5
 * per chunk; --no-checksums skips that run). With --json, one JSON document on stdout.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { databaseUrlFor, redactUrl } from '../src/db/connection.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../src/db/embedded.js';
import { start } from '../src/engine/lifecycle.js';
import { defaultExecOptions } from '../src/exec/options.js';
import { verifyMigration } from '../src/exec/verify.js';
import { loadMigrationFile } from '../src/migration/load.js';
import { inProgress } from '../src/state/store.js';

const args = process.argv.slice(2);
const value = (flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const rows = Number(value('--rows') ?? 1_000_000);
const json = args.includes('--json');
const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
if (!Number.isInteger(rows) || rows < 10) {
  process.stderr.write('usage: npm run bench:verify -- [--rows N (>= 10)] [--database-url URL] [--no-checksums] [--json]\n');
  process.exit(2);
}

const MIGRATION = `name: bench_lower_email
operations:
  - alter_column: { table: users, column: email, type: text, up: lower(email), down: upper(email) }
`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const v = await fn();
  return { ms: performance.now() - t0, value: v };
}

async function main(): Promise<number> {
  let server: EmbeddedServer | undefined;
  let adminUrl = value('--database-url') ?? process.env['TANDEM_DATABASE_URL'];
  if (!adminUrl) {
    log('starting an embedded PostgreSQL…');
    server = await startEmbeddedPostgres();
    adminUrl = server.url;
  }
  const name = `tandem_bench_verify_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bench-verify-'));
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const client = new pg.Client({ connectionString: databaseUrlFor(adminUrl, name) });
    await client.connect();
    try {
      const version = (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
      log(`PostgreSQL ${version} at ${server ? 'embedded' : redactUrl(adminUrl)}; ${rows} rows`);
      await client.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text)`);
      await client.query(`INSERT INTO users SELECT g, 'User' || g || '@Example.COM' FROM generate_series(1, ${rows}) g`);
      await client.query(`VACUUM ANALYZE users`);
      const file = path.join(dir, 'bench_lower_email.yaml');
      await writeFile(file, MIGRATION);
      const migration = await loadMigrationFile(file);
      const started = await timed(() => start(client, migration, { batchSize: 10_000 }));
      log(`start (backfill included): ${(started.ms / 1000).toFixed(1)} s`);
      const bad = Math.floor(rows / 2) + 1;
      await client.query(`SET session_replication_role = replica`);
      await client.query(`UPDATE users SET _tandem_new_email = 'corrupted' WHERE id = $1`, [bad]);
      await client.query(`RESET session_replication_role`);
      await client.query(`VACUUM ANALYZE users`);

      const scan = await timed(() => client.query(`SELECT count(*) FROM users`));
      const row = (await inProgress(client, 'public'))!;
      const verified = await timed(() => verifyMigration(client, row, { exec: defaultExecOptions, restart: true }));
      const withSums = args.includes('--no-checksums') ? undefined : await timed(() => verifyMigration(client, row, { exec: defaultExecOptions, restart: true, checksums: true }));
      const r = verified.value;
      const found = r.mismatches.map((m) => m.key['id']);
      const ok = r.mismatchCount === 1 && found[0] === String(bad) && (withSums === undefined || withSums.value.mismatches[0]?.key['id'] === String(bad));
      const result = {
        rows,
        postgres: version,
        countScanMs: Math.round(scan.ms),
        countScanRowsPerSecond: Math.round(rows / (scan.ms / 1000)),
        verifyMs: Math.round(verified.ms),
        verifyRowsPerSecond: Math.round(r.rowsChecked / (verified.ms / 1000)),
        verifyChunks: r.tables[0]?.chunks ?? 0,
        slowdownVsCountScan: Number((verified.ms / scan.ms).toFixed(1)),
        ...(withSums ? { verifyWithChecksumsMs: Math.round(withSums.ms), verifyWithChecksumsRowsPerSecond: Math.round(rows / (withSums.ms / 1000)) } : {}),
        corruptedKey: String(bad),
        foundKeys: found,
        ok,
      };
      if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      log(`SELECT count(*): ${result.countScanMs} ms (${result.countScanRowsPerSecond} rows/s)`);
      log(`verify:          ${result.verifyMs} ms (${result.verifyRowsPerSecond} rows/s, ${result.verifyChunks} chunks) = ${result.slowdownVsCountScan}× the count scan`);
      if (withSums)
        log(`verify --checksums: ${Math.round(withSums.ms)} ms (${Math.round(rows / (withSums.ms / 1000))} rows/s) = ${(withSums.ms / scan.ms).toFixed(1)}× the count scan`);
      log(`corrupted id ${bad}; verify named: ${found.join(', ') || '(none)'} → ${ok ? 'OK' : 'FAILED'}`);
      return ok ? 0 : 1;
    } finally {
      await client.end();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
    await server?.stop();
  }
}

process.exitCode = await main();
