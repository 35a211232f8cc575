/**
 * Shared pieces of the concurrency tests: polling, a child-process CLI runner that can be
 * killed, and small helpers around the state schema.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { projectRoot } from '../helpers/cli.js';
import { Ledger, Partition, Recorder, startClient, type TrafficShape, type Version } from '../../src/traffic/workload.js';

export { sleep };

/** Poll `probe` until it returns a truthy value; fail after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function writeMigrationFile(name: string, doc: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-conc-'));
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; exitedAt: number }>;
}

const running = new Set<ChildProcess>();

/** Kill (by handle) any CLI process a test started and left running, e.g. after a failed assertion. */
export function killSpawned(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.clear();
}

/** Spawn the real binary (bin/tandem.js) against `url`; the caller may kill it. */
export function spawnCli(args: string[], url: string): CliRun {
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'tandem.js'), ...args], {
    env: { ...process.env, TANDEM_DATABASE_URL: url, DATABASE_URL: undefined } as NodeJS.ProcessEnv,
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  running.add(child);
  const done = new Promise<Awaited<CliRun['done']>>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout, stderr, exitedAt: Date.now() });
    }),
  );
  return { child, done };
}

export interface CheckpointRow {
  last_key: string[] | null;
  rows_done: number;
  batches: number;
  done: boolean;
}

export async function checkpoint(db: { query: (sql: string, params?: unknown[]) => Promise<pg.QueryResult> }, table: string): Promise<CheckpointRow | undefined> {
  const exists = await db.query(`SELECT to_regclass('tandem.backfill_checkpoints') IS NOT NULL AS ok`);
  if (!exists.rows[0].ok) return undefined;
  const r = await db.query(
    `SELECT last_key, rows_done::int AS rows_done, batches::int AS batches, done
       FROM tandem.backfill_checkpoints WHERE table_name = $1 ORDER BY migration_id DESC LIMIT 1`,
    [table],
  );
  return r.rows[0] as CheckpointRow | undefined;
}

export async function migrationPhase(db: { query: (sql: string, params?: unknown[]) => Promise<pg.QueryResult> }, name: string): Promise<string | undefined> {
  const r = await db.query(`SELECT phase FROM tandem.migrations WHERE name = $1 ORDER BY id DESC LIMIT 1`, [name]);
  return r.rows[0]?.phase as string | undefined;
}

/** Backends holding or waiting for the tandem runner lock (advisory class 0x7a4d). */
export async function runnerLockHolders(db: { query: (sql: string, params?: unknown[]) => Promise<pg.QueryResult> }): Promise<number[]> {
  const r = await db.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x7a4d}::oid AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return r.rows.map((x) => x.pid as number);
}

export const RUNNER_LOCK_CLASS = 0x7a4d;

/** Nearest-rank percentile: the one definition, shared with the demo and the benches. */
export { percentile } from '../../src/util/percentile.js';

/**
 * Application traffic from the one traffic generator (src/traffic/workload.ts): `clients`
 * sessions of `version`, each owning its share of the keys, until stopped. Their backend pids
 * are known, e.g. to tell them apart from a blocker.
 */
export async function startTraffic(
  db: { connect(applicationName?: string): Promise<pg.Client> },
  opts: { shape: TrafficShape; seedRows: number; clients: number; version?: Version; thinkMs?: number },
): Promise<{ pids: number[]; recorder: Recorder; ledger: Ledger; stop(): Promise<void> }> {
  const version = opts.version ?? 'old';
  const ledger = new Ledger(opts.shape, opts.seedRows);
  const recorder = new Recorder();
  recorder.begin('traffic', opts.clients);
  const conns = await Promise.all(Array.from({ length: opts.clients }, (_, i) => db.connect(`${opts.shape.appPrefix ?? 'traffic-'}${version}-${i}`)));
  const pids = await Promise.all(conns.map(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid));
  const running = conns.map((client, i) =>
    startClient({ client, version, shape: opts.shape, partition: new Partition(i, opts.clients, opts.seedRows), ledger, recorder, thinkMs: opts.thinkMs ?? 0, valid: true }),
  );
  let stopped: Promise<void> | undefined;
  return {
    pids,
    recorder,
    ledger,
    stop() {
      stopped ??= Promise.all(running.map((r) => r.stop())).then(() => recorder.end());
      return stopped;
    },
  };
}
