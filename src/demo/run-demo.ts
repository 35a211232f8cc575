import pg from 'pg';
import { connect } from '../db/connection.js';
import { complete, start } from '../engine/lifecycle.js';
import type { Reporter } from '../exec/options.js';
import { parseMigration } from '../migration/load.js';
import { consoleReporter } from '../cli/reporter.js';
import { Ledger, Partition, Recorder, type RunningClient, startClient, verifyTable } from '../traffic/workload.js';
import { maxOf, percentile } from '../util/percentile.js';
import { openDemoDatabase } from './demo-database.js';
import { demoShape } from './traffic.js';

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
  const db = await openDemoDatabase(opts.databaseUrl, `tandem_demo_${process.pid}`, out);
  try {
    const { url, label: serverLabel } = db;

    const runner = await connect(url, 'tandem');
    const tLoad = Date.now();
    out(`loading ${fmt(opts.rows)} rows into users…`);
    await loadDemoUsers(runner, opts.rows);
    const loadMs = Date.now() - tLoad;

    // Each client owns a share of the keys (seed rows with id % total == its index, and the keys it
    // inserts), so the ledger knows exactly what every row must look like.
    const total = opts.clientsPerVersion * 2;
    const ledger = new Ledger(demoShape, opts.rows);
    const recorder = new Recorder();
    recorder.begin('old version only', opts.clientsPerVersion);
    const clients: { version: 'old' | 'new'; running: RunningClient }[] = [];
    const conns: pg.Client[] = [];
    const launch = async (v: 'old' | 'new', index: number) => {
      const c = new pg.Client({ connectionString: url, application_name: `demo-app-${v}-${index}` });
      c.on('error', () => undefined);
      await c.connect();
      conns.push(c);
      await c.query(v === 'old' ? 'SET search_path TO public' : `SET search_path TO public_${demoMigration.name}`);
      const partition = new Partition(index, total, opts.rows);
      clients.push({ version: v, running: startClient({ client: c, version: v, shape: demoShape, partition, ledger, recorder, thinkMs: 2, valid: false }) });
    };
    const stopClients = (v: 'old' | 'new') => Promise.all(clients.filter((c) => c.version === v).map((c) => c.running.stop()));
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
            recorder.begin('both versions', total);
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
    await stopClients('old');
    recorder.begin('new version only', opts.clientsPerVersion);
    const tComplete = Date.now();
    await complete(runner, { reporter });
    const completeMs = Date.now() - tComplete;
    await new Promise((res) => setTimeout(res, 500));
    await stopClients('new');
    recorder.end();
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));

    // Every row, read back in the final shape, against the ledger: each acknowledged write is
    // there with the values the new shape gives it, and nothing else changed.
    const verify = await verifyTable(runner, 'users', demoShape.newColumns, ledger, 'new');
    const lost = verify.wrong + verify.missing + verify.unexpected;
    await runner.end();
    const phases = recorder.phases;
    const latencies = phases.flatMap((p) => p.latencies);
    const stats = {
      statements: phases.reduce((n, p) => n + p.statements, 0),
      failed: phases.reduce((n, p) => n + p.failed + p.wrong, 0),
      errors: [...phases.flatMap((p) => p.errors), ...verify.samples].slice(0, 10),
    };

    const summary: DemoSummary = {
      server: serverLabel,
      rows: opts.rows,
      clients: { old: opts.clientsPerVersion, new: opts.clientsPerVersion },
      statements: stats.statements,
      failedStatements: stats.failed,
      latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(maxOf(latencies)) },
      phasesSeconds: {
        load: secs(loadMs),
        expand: secs(expandMs),
        backfill: secs(backfillMs),
        bothVersions: secs(bothMs),
        complete: secs(completeMs),
        total: secs(Date.now() - t0),
      },
      acknowledgedWrites: ledger.acknowledged,
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
    out(
      `  writes verified   ${fmt(ledger.acknowledged)} acknowledged writes on ${fmt(verify.keysWritten)} keys, ${fmt(verify.rows)} rows read back; ${fmt(lost)} missing or wrong`,
    );
    out(
      `  time per phase    load ${summary.phasesSeconds.load} s, expand ${summary.phasesSeconds.expand} s, backfill ${summary.phasesSeconds.backfill} s, ` +
        `both versions ${summary.phasesSeconds.bothVersions} s, complete ${summary.phasesSeconds.complete} s; total ${summary.phasesSeconds.total} s`,
    );
    for (const e of stats.errors) out(`  error: ${e}`);
    return summary;
  } finally {
    await db.close();
  }
}

/** The demo's `users` table with `rows` seed rows (as demoSeedRow describes them); the canary demo loads the same. */
export async function loadDemoUsers(runner: pg.Client, rows: number): Promise<void> {
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
    [rows],
  );
  await runner.query('VACUUM ANALYZE users');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
