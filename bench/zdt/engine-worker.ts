/**
 * Tandem's engine in its own thread, as it runs in production in its own process: a pause of
 * the benchmark's clients (garbage collection, a busy event loop) must not hold up the engine
 * between the statements of one of its transactions, and so prolong its locks, nor the reverse.
 * Messages in: { action: 'start' | 'complete' | 'rollback' }; out: step, log, done, failed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { complete, type EngineOptions, rollback, start } from '../../src/engine/lifecycle.js';
import type { Reporter } from '../../src/exec/options.js';
import { parseMigration } from '../../src/migration/load.js';

export interface EngineWorkerData {
  url: string;
  migration: unknown;
  batchSize?: number;
  batchDelayMs?: number;
  workers?: number;
}

export type EngineMessage =
  | { type: 'ready' }
  | { type: 'step'; step: string }
  | { type: 'warn'; message: string }
  | { type: 'backfill'; table: string; done: number; estimated: number; finished: boolean }
  | { type: 'done'; action: string; seconds: number; versionSchema?: string }
  | { type: 'failed'; action: string; message: string };

const data = workerData as EngineWorkerData;
const port = parentPort!;
const post = (m: EngineMessage) => port.postMessage(m);

const reporter: Reporter = {
  step: (phase, description) => post({ type: 'step', step: `${phase}: ${description}` }),
  info: (m) => post({ type: 'step', step: m }),
  warn: (m) => post({ type: 'warn', message: m }),
  backfillProgress: (table, done, estimated, finished) => post({ type: 'backfill', table, done, estimated, finished }),
};
const options: EngineOptions = {
  reporter,
  ...(data.batchSize !== undefined ? { batchSize: data.batchSize } : {}),
  ...(data.batchDelayMs !== undefined ? { batchDelayMs: data.batchDelayMs } : {}),
  ...(data.workers !== undefined ? { workers: data.workers } : {}),
};

const client = new pg.Client({ connectionString: data.url, application_name: 'tandem' });
client.on('error', () => undefined);
await client.connect();
const migration = parseMigration(data.migration, undefined);

port.on('message', async (msg: { action: 'start' | 'complete' | 'rollback' | 'close' }) => {
  if (msg.action === 'close') {
    await client.end().catch(() => undefined);
    port.close();
    return;
  }
  const t0 = performance.now();
  try {
    if (msg.action === 'start') {
      const r = await start(client, migration, options);
      post({ type: 'done', action: msg.action, seconds: (performance.now() - t0) / 1000, versionSchema: r.versionSchema });
    } else {
      await (msg.action === 'complete' ? complete(client, options) : rollback(client, options));
      post({ type: 'done', action: msg.action, seconds: (performance.now() - t0) / 1000 });
    }
  } catch (err) {
    post({ type: 'failed', action: msg.action, message: (err as Error).message });
  }
});
post({ type: 'ready' });
