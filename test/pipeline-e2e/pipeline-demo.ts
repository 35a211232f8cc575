import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type ColumnSpec, Ledger, type Row, type TrafficShape, type VerifyResult, verifyTable } from '../../src/traffic/workload.js';
import { convertSql } from '../../src/convert/convert.js';
import { parseSqlFile } from '../../src/convert/parse.js';
import { migrationYaml } from '../../src/convert/yaml.js';
import { runActionStep, type StepResult } from '../action/run-step.js';
import { projectRoot, runCli } from '../helpers/cli.js';

/**
 * The CI/CD pipeline of docs/ci-cd.md, played against a real database with real application
 * processes (test/pipeline-e2e/app.mjs), through the GitHub Action's step script:
 *
 * run 1 (a good release): lint the SQL → convert it → plan → migrate (pre-deploy) → the new app
 * started with `tandem latest` as its search_path → health check passes → the old app drained →
 * complete (post-deploy).
 * run 2 (a bad release): lint → convert → plan → migrate → the new app started → its health
 * check fails → it is drained → rollback; the previous app wrote throughout.
 *
 * Every acknowledged write of every app instance goes into the traffic generator's Ledger; at the
 * end the table is read back against it: nothing missing, nothing wrong, nothing unexpected.
 * `npm run pipeline:demo -- --database-url <url>` runs it on a server (in a scratch database).
 */

export interface StageRecord {
  stage: string;
  code?: number;
  ms: number;
  note?: string;
}

export interface PipelineReport {
  stages: StageRecord[];
  latest: { before: string; afterGoodDeploy: string; badRelease: string; afterRollback: string };
  health: { good: number; bad: number };
  writes: { v1: number; v2: number; v3: number };
  verify: VerifyResult;
  /** Columns of orders at the end (the bad release's `priority` must be gone). */
  finalColumns: string[];
  totalMs: number;
}

const V1 = ['item', 'qty'];
const V2 = ['item', 'qty', 'note'];
const V3 = ['item', 'qty', 'note', 'priority'];
const spec = (names: string[]): ColumnSpec[] => names.map((name) => ({ name, gen: () => null }));

/** Versions 1 → 2 of `orders`: v2 adds `note` with the default 'none' (the mirror of its `up`). */
const shapeV1V2: TrafficShape = {
  oldTable: 'orders',
  newTable: 'orders',
  oldColumns: spec(V1),
  newColumns: spec(V2),
  toNew: (o) => ({ ...o, note: 'none' }),
  toOld: (n) => Object.fromEntries(V1.map((c) => [c, n[c] ?? null])),
  seedRow: () => ({}),
};

interface App {
  name: string;
  child: ChildProcess;
  port: number;
  token: string;
  writes: { id: number; row: Row }[];
  exited: Promise<number | null>;
}

async function startApp(name: string, databaseUrl: string, searchPath: string, columns: string[], idBase: number, failHealth = false): Promise<App> {
  const token = randomBytes(12).toString('hex');
  const child = spawn(process.execPath, [path.join(projectRoot, 'test', 'pipeline-e2e', 'app.mjs')], {
    cwd: projectRoot,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      APP_SEARCH_PATH: searchPath,
      APP_COLUMNS: columns.join(','),
      APP_ID_BASE: String(idBase),
      APP_TOKEN: token,
      APP_FAIL_HEALTH: failHealth ? '1' : '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const writes: App['writes'] = [];
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.trim()) writes.push(JSON.parse(line) as { id: number; row: Row });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening (\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`app ${name} exited before listening: ${err}`)));
  });
  return { name, child, port, token, writes, exited };
}

/** Polls the app's /health until it answers 200, or until `forMs` passed: the last status. */
async function healthCheck(app: App, forMs: number): Promise<number> {
  const deadline = Date.now() + forMs;
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${app.port}/health`, { headers: { authorization: `Bearer ${app.token}` } }).catch(() => undefined);
    const status = r?.status ?? 0;
    if (status === 200 || Date.now() >= deadline) return status;
    await sleep(100);
  }
}

/** SIGTERM: the app finishes the write in flight, reports it, and exits. */
async function drain(app: App): Promise<void> {
  app.child.kill('SIGTERM');
  const code = await app.exited;
  if (code !== 0) throw new Error(`app ${app.name} exited with ${code} while draining`);
}

export async function runPipelineDemo(databaseUrl: string, log: (line: string) => void = () => undefined): Promise<PipelineReport> {
  const began = performance.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'tandem-pipeline-'));
  await mkdir(path.join(work, 'sql'));
  await mkdir(path.join(work, 'migrations'));
  const stages: StageRecord[] = [];
  const apps: App[] = [];
  const stage = async <T extends { code: number }>(name: string, fn: () => Promise<T>, expect = 0): Promise<T> => {
    const t = performance.now();
    const r = await fn();
    stages.push({ stage: name, code: r.code, ms: Math.round(performance.now() - t) });
    log(`${name}: exit ${r.code} (${Math.round(performance.now() - t)} ms)`);
    if (r.code !== expect) throw new Error(`${name} exited ${r.code}, expected ${expect}: ${(r as unknown as StepResult).stderr ?? ''}`);
    return r;
  };
  const step = (inputs: Record<string, string>) => runActionStep(work, inputs, databaseUrl);
  const latest = async () => (await stage('tandem latest', () => runCli(['--database-url', databaseUrl, 'latest']))).stdout.trim();
  // The SQL the developer wrote, converted to a migration (as `tandem convert sql/x.sql -o migrations/x.yaml`, in-process).
  const convert = (sql: string, yaml: string) =>
    stage(`convert ${sql}`, async () => {
      const result = convertSql(await parseSqlFile(path.join(work, 'sql', sql)));
      if (result.parts.length !== 1 || result.todos.length) throw new Error(`${sql} does not convert into one migration without TODOs`);
      await writeFile(path.join(work, 'migrations', yaml), migrationYaml(result, sql));
      return { code: 0 };
    });

  try {
    // The app's current version: orders, applied and completed (a deploy that happened before).
    await writeFile(
      path.join(work, 'migrations', '0001_orders.yaml'),
      'operations:\n  - create_table: { name: orders, columns: [ {name: id, type: bigint, pk: true}, {name: item, type: text, nullable: true}, {name: qty, type: int, nullable: true} ] }\n',
    );
    const before = (await stage('setup: migrate --complete', () => step({ command: 'migrate', dir: 'migrations', complete: 'true' }))).outputs['latest-schema']!;
    const v1 = await startApp('v1', databaseUrl, before, V1, 1_000_000);
    apps.push(v1);

    // Run 1: a good release.
    await writeFile(path.join(work, 'sql', '0002_note.sql'), "ALTER TABLE orders ADD COLUMN note text DEFAULT 'none';\n");
    await stage('lint', () => step({ command: 'lint', paths: 'sql' }));
    await convert('0002_note.sql', '0002_note.yaml');
    await stage('plan', () => step({ command: 'plan', dir: 'migrations', estimate: 'false' }));
    const migrated = await stage('migrate (pre-deploy)', () => step({ command: 'migrate', dir: 'migrations' }));
    const afterGoodDeploy = await latest();
    if (migrated.outputs['latest-schema'] !== afterGoodDeploy)
      throw new Error(`the action's latest-schema ${migrated.outputs['latest-schema']} is not tandem latest's ${afterGoodDeploy}`);
    const v2 = await startApp('v2', databaseUrl, afterGoodDeploy, V2, 2_000_000);
    apps.push(v2);
    let goodStatus = 0;
    await stage('health check (new app)', async () => {
      goodStatus = await healthCheck(v2, 15_000);
      return { code: goodStatus === 200 ? 0 : 1 };
    });
    await stage('drain the old app', async () => (await drain(v1), { code: 0 }));
    await stage('complete (post-deploy)', () => step({ command: 'complete' }));

    // Run 2: a bad release; v2 keeps writing throughout.
    await writeFile(path.join(work, 'sql', '0003_priority.sql'), 'ALTER TABLE orders ADD COLUMN priority int NOT NULL DEFAULT 0;\n');
    await stage('lint', () => step({ command: 'lint', paths: 'sql' }));
    await convert('0003_priority.sql', '0003_priority.yaml');
    await stage('plan', () => step({ command: 'plan', dir: 'migrations', estimate: 'false' }));
    await stage('migrate (pre-deploy)', () => step({ command: 'migrate', dir: 'migrations' }));
    const badRelease = await latest();
    const v3 = await startApp('v3', databaseUrl, badRelease, V3, 3_000_000, true);
    apps.push(v3);
    // It writes (its version works) but reports itself unhealthy: wait until it has written, then check.
    while (v3.writes.length < 5 && v3.child.exitCode === null) await sleep(20);
    const badStatus = await healthCheck(v3, 1_000);
    stages.push({ stage: 'health check (new app)', code: badStatus === 200 ? 0 : 1, ms: 1_000, note: `HTTP ${badStatus}` });
    log(`health check (new app): HTTP ${badStatus}: rolling back`);
    await stage('drain the new app', async () => (await drain(v3), { code: 0 }));
    // The action's latest-schema after a rollback is `tandem latest`'s: the version the running app keeps.
    const afterRollback = (await stage('rollback (deploy failed)', () => step({ command: 'rollback' }))).outputs['latest-schema']!;
    while (v2.writes.length < 20) await sleep(20);
    await drain(v2);

    // Every acknowledged write of v1, v2 and v3, as the surviving version (v2) must see it.
    const ledger = new Ledger(shapeV1V2, 0);
    for (const w of v1.writes) ledger.write(w.id, 'old', w.row);
    for (const w of v2.writes) ledger.write(w.id, 'new', w.row);
    for (const w of v3.writes) ledger.write(w.id, 'new', Object.fromEntries(V2.map((c) => [c, w.row[c] ?? null])));
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const verify = await verifyTable(client, 'orders', spec(V2), ledger, 'new');
      const cols = await client.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders' ORDER BY column_name`,
      );
      return {
        stages,
        latest: { before, afterGoodDeploy, badRelease, afterRollback },
        health: { good: goodStatus, bad: badStatus },
        writes: { v1: v1.writes.length, v2: v2.writes.length, v3: v3.writes.length },
        verify,
        finalColumns: cols.rows.map((r) => r.column_name),
        totalMs: Math.round(performance.now() - began),
      };
    } finally {
      await client.end();
    }
  } finally {
    for (const app of apps) if (app.child.exitCode === null) app.child.kill('SIGKILL');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--database-url');
  const admin = i >= 0 ? process.argv[i + 1] : (process.env['TANDEM_DATABASE_URL'] ?? process.env['DATABASE_URL']);
  if (!admin) {
    process.stderr.write('usage: npm run pipeline:demo -- --database-url postgres://… (a scratch database is created there and dropped after)\n');
    process.exit(2);
  }
  const { databaseUrlFor } = await import('../../src/db/connection.js');
  const name = `tandem_pipeline_${randomBytes(4).toString('hex')}`;
  const a = new pg.Client({ connectionString: admin });
  await a.connect();
  await a.query(`CREATE DATABASE ${name}`);
  try {
    const r = await runPipelineDemo(databaseUrlFor(admin, name), (l) => process.stdout.write(`${l}\n`));
    process.stdout.write(`${JSON.stringify({ ...r, stages: undefined }, null, 2)}\n`);
    process.exitCode = r.verify.missing + r.verify.wrong + r.verify.unexpected === 0 ? 0 : 1;
  } finally {
    await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await a.end();
  }
}
