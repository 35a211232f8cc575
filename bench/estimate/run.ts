/**
 * The estimate checked against reality: a table like the demo's (`users`, N rows), `tandem plan`'s
 * estimate of the demo migration's start (rename + type change + NOT NULL, and one index built
 * concurrently), then the real `start` on the same table, timed. The ratio measured/estimated is
 * the figure to watch (the target: within a factor of 3 either way); both come from the same run on
 * the same server, so a busy machine moves both.
 *   npm run bench:estimate                         # 1,000,000 rows, embedded PostgreSQL (or TANDEM_DATABASE_URL's server)
 *   npm run bench:estimate -- --rows 200000 --database-url postgres://… --json
 */
import { connect, databaseUrlFor } from '../../src/db/connection.js';
import { complete, plan, start } from '../../src/engine/lifecycle.js';
import { estimateOnDatabase } from '../../src/estimate/run.js';
import type { PlanEstimate } from '../../src/estimate/estimator.js';
import { defaultExecOptions } from '../../src/exec/options.js';
import { parseMigration } from '../../src/migration/load.js';

export interface EstimateBenchResult {
  rows: number;
  server: string;
  calibrationSeconds: number;
  estimatedStartSeconds: number;
  measuredStartSeconds: number;
  /** measured ÷ estimated. */
  ratio: number;
  steps: { description: string; estimatedSeconds: number | null; measuredSeconds: number }[];
  estimatedCompleteSeconds: number;
  /** null when the run stopped after start. */
  measuredCompleteSeconds: number | null;
}

export const benchMigration = {
  name: 'bench_estimate',
  operations: [
    { rename_column: { table: 'users', from: 'user_name', to: 'display_name' } },
    { alter_column: { table: 'users', column: 'score', type: 'integer', up: 'CAST(score AS integer)', down: 'CAST(score AS text)' } },
    { alter_column: { table: 'users', column: 'email', nullable: false, up: "coalesce(email, 'unknown')" } },
    { create_index: { name: 'users_score_idx', table: 'users', columns: ['score'] } },
  ],
};

export async function runEstimateBench(opts: { adminUrl: string; rows: number; complete?: boolean; log?: (m: string) => void }): Promise<EstimateBenchResult> {
  const log = opts.log ?? (() => undefined);
  const name = `tandem_bench_estimate_${process.pid}`;
  const admin = await connect(opts.adminUrl, 'tandem-bench');
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  const client = await connect(databaseUrlFor(opts.adminUrl, name), 'tandem');
  try {
    log(`loading ${opts.rows.toLocaleString('en-US')} rows`);
    await client.query(`CREATE TABLE users (id bigserial PRIMARY KEY, user_name text NOT NULL, score text NOT NULL DEFAULT '0', email text,
                          created_at timestamptz NOT NULL DEFAULT now())`);
    await client.query(
      `INSERT INTO users (user_name, score, email)
       SELECT 'user' || g, (g % 1000)::text, CASE WHEN g % 5 = 0 THEN NULL ELSE 'user' || g || '@example.com' END FROM generate_series(1, $1::int) g`,
      [opts.rows],
    );
    await client.query('CREATE INDEX users_email_idx ON users (email)');
    await client.query('VACUUM ANALYZE users');
    const server = (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    const migration = parseMigration(benchMigration, undefined);

    log('plan: statistics and calibration');
    const planned = await plan(client, migration, {});
    const est = await estimateOnDatabase(client, planned, { schema: 'public', batchSize: defaultExecOptions.batchSize, calibrate: true });
    const e: PlanEstimate = est.estimate;

    log('start (measured)');
    const marks: { description: string; at: number }[] = [];
    const reporter = {
      step: (_p: string, d: string) => void marks.push({ description: d, at: performance.now() }),
      info: () => undefined,
      warn: () => undefined,
      backfillProgress: () => undefined,
    };
    const t0 = performance.now();
    await start(client, migration, { reporter });
    const t1 = performance.now();
    const steps = e.start.steps.map((s) => {
      const i = marks.findIndex((m) => m.description === s.description);
      const measured = i >= 0 ? ((marks[i + 1]?.at ?? t1) - marks[i]!.at) / 1000 : 0;
      return { description: s.description, estimatedSeconds: s.estimatedSeconds, measuredSeconds: measured };
    });
    const tc = performance.now();
    if (opts.complete !== false) await complete(client, { reporter });
    const measuredComplete = opts.complete !== false ? (performance.now() - tc) / 1000 : null;
    const measuredStart = (t1 - t0) / 1000;
    return {
      rows: opts.rows,
      server,
      calibrationSeconds: est.calibration?.seconds ?? 0,
      estimatedStartSeconds: e.start.totalSeconds ?? 0,
      measuredStartSeconds: measuredStart,
      ratio: measuredStart / (e.start.totalSeconds ?? Number.NaN),
      steps,
      estimatedCompleteSeconds: e.complete.totalSeconds ?? 0,
      measuredCompleteSeconds: measuredComplete,
    };
  } finally {
    await client.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

export function renderEstimateBench(r: EstimateBenchResult): string {
  const s = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)} s`);
  return [
    `estimate vs measured start, users ${r.rows.toLocaleString('en-US')} rows, PostgreSQL ${r.server} (calibration took ${r.calibrationSeconds.toFixed(2)} s)`,
    ...r.steps.map((x) => `  ${x.description}: estimated ${s(x.estimatedSeconds)}, measured ${s(x.measuredSeconds)}`),
    `  start:    estimated ${s(r.estimatedStartSeconds)}, measured ${s(r.measuredStartSeconds)}; measured/estimated = ${r.ratio.toFixed(2)}`,
    `  complete: estimated ${s(r.estimatedCompleteSeconds)}, measured ${s(r.measuredCompleteSeconds)}; measured/estimated = ${r.measuredCompleteSeconds === null ? 'n/a' : (r.measuredCompleteSeconds / r.estimatedCompleteSeconds).toFixed(2)}`,
  ].join('\n');
}
