/** The second lint thread (see parallel.ts): takes files from the shared counter, posts results. */
import { workerData } from 'node:worker_threads';
import { lintText } from './analyze.js';
import type { WorkerInput } from './parallel.js';
import { loadParser } from './source.js';

const input = workerData as WorkerInput;
const counters = new Int32Array(input.counters);
const lib = await loadParser();
Atomics.store(counters, 2, 1);
Atomics.notify(counters, 2);
for (;;) {
  const i = Atomics.add(counters, 0, 1);
  if (i >= input.names.length) break;
  const result = lintText(lib, input.texts[i]!, input.names[i]!, input.opts);
  result.source = ''; // the main thread has the text
  input.port.postMessage({ i, result });
  Atomics.add(counters, 1, 1);
  Atomics.notify(counters, 1);
}
input.port.close();
