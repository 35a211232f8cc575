/**
 * Linting many files on two threads. The main thread and one worker take the next file from a
 * shared counter; the worker sends each result back as soon as it has it, and the main thread
 * hands results on in file order (so the output streams in order). If the worker cannot start or
 * dies, the main thread lints whatever it had not finished. Results are identical to the
 * sequential path: each file is linted independently with the same options.
 */
import { availableParallelism, loadavg } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { FileResult, LintOptions } from './types.js';

/** Below this many files a second thread costs more than it saves. */
export const PARALLEL_MIN_FILES = 150;

export interface WorkerInput {
  names: string[];
  texts: string[];
  opts: LintOptions;
  /** [0]: next file index to take; [1]: results the worker has posted; [2]: 1 once the worker is ready. */
  counters: SharedArrayBuffer;
  port: MessagePort;
}

/**
 * Two threads when there are enough files and a core to spare: on a machine already busy with
 * other work the second thread only adds its start-up cost. TANDEM_LINT_THREADS=1|2 decides.
 */
export function parallelism(files: number): boolean {
  const env = process.env['TANDEM_LINT_THREADS'];
  if (env !== undefined) return Number(env) > 1 && files > 1;
  if (files < PARALLEL_MIN_FILES) return false;
  const cores = availableParallelism();
  return cores > 1 && loadavg()[0]! < cores - 0.5;
}

/** The worker module next to this one: worker.js when compiled; worker.ts through tsx's loader from the sources. */
function startWorker(input: WorkerInput): Worker {
  const opts = { workerData: input, transferList: [input.port], stdout: false, stderr: false };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), opts);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { ...opts, eval: true });
}

export async function lintInParallel(
  names: string[],
  texts: string[],
  opts: LintOptions,
  lintOne: (i: number) => FileResult,
  emit: (r: FileResult) => void,
  /** Tests: wait up to this long for the worker to be ready before taking files. */
  waitForWorkerMs = 0,
): Promise<{ results: FileResult[]; byWorker: number }> {
  const n = names.length;
  const counters = new Int32Array(new SharedArrayBuffer(12));
  const { port1, port2 } = new MessageChannel();
  const results: (FileResult | undefined)[] = new Array(n);
  let workerGone = false;
  let worker: Worker | undefined;
  try {
    worker = startWorker({ names, texts, opts, counters: counters.buffer as SharedArrayBuffer, port: port2 });
    worker.on('error', () => (workerGone = true));
    worker.on('exit', () => (workerGone = true));
    worker.unref();
  } catch {
    workerGone = true;
  }

  let emitted = 0;
  let byWorker = 0;
  const drain = () => {
    for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) {
      const { i, result } = m.message as { i: number; result: FileResult };
      result.source = texts[i]!;
      results[i] = result;
      byWorker++;
    }
    while (emitted < n && results[emitted]) emit(results[emitted++]!);
  };

  const waitUntil = Date.now() + waitForWorkerMs;
  while (Atomics.load(counters, 2) === 0 && !workerGone && Date.now() < waitUntil) {
    Atomics.wait(counters, 2, 0, 20);
    await new Promise((resolve) => setImmediate(resolve));
  }

  // Take files until none is left.
  for (;;) {
    const i = Atomics.add(counters, 0, 1);
    if (i >= n) break;
    results[i] = lintOne(i);
    drain();
  }
  // Wait for the worker's last files; redo them here if it is gone.
  while (emitted < n) {
    drain();
    if (emitted >= n) break;
    if (workerGone) {
      drain();
      for (let i = emitted; i < n; i++) if (!results[i]) results[i] = lintOne(i);
      drain();
      break;
    }
    const seen = Atomics.load(counters, 1);
    Atomics.wait(counters, 1, seen, 20);
    // Let the worker's 'exit'/'error' events run.
    await new Promise((resolve) => setImmediate(resolve));
  }
  port1.close();
  if (worker) void worker.terminate();
  return { results: results as FileResult[], byWorker };
}
