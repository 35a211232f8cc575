import assert from 'node:assert/strict';
import { runHistory } from './history-run.js';
const r = await runHistory({ files: Number(process.argv[2] ?? 40), seed: Number(process.argv[3] ?? 7) });
console.log(r.timings, r.migrations);
for (const k of Object.keys(r.direct) as (keyof typeof r.direct)[]) {
  try { assert.deepEqual(r.converted[k], r.direct[k], k); } catch (e) { console.log(k, (e as Error).message.slice(0, 3000)); }
}
const a = new Set(r.direct.defaultTexts);
console.log('default texts differing:', r.converted.defaultTexts.filter((d) => !a.has(d)).length, 'of', r.converted.defaultTexts.length);
