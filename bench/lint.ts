/**
 * `npm run bench:lint` — tandem lint against squawk on the same generated corpus, side by side
 * in one run.
 *
 *   npm run bench:lint                 # 600 files, 5 timed runs each
 *   npm run bench:lint -- --files 1000 --runs 7 --strict
 *
 * Both tools are timed as a user runs them: one process over every file of the corpus, default
 * (human) output drained from a pipe, wall time from spawn to exit; the median of the runs
 * (after one warm-up each, alternating tools) is reported. tandem runs compiled (`tsc` into
 * .tmp/bench-build, what `npm run build` ships); one extra run from the TypeScript sources
 * through tsx is shown for information. squawk is the `squawk-cli` dev dependency; if its binary
 * is missing or does not run here, the bench says so and still reports tandem's files/s.
 * Target: tandem's wall time within 2× of squawk's. `--strict` exits 1 when it is not.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { generateCorpus } from './corpus.js';
import { percentile } from '../src/util/percentile.js';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i === -1 ? def : Number(args[i + 1]);
};
const FILES = arg('--files', 600);
const RUNS = arg('--runs', 5);
const STRICT = args.includes('--strict');
const TARGET_RATIO = 2;

interface Timing {
  ms: number;
  code: number | null;
  stdoutBytes: number;
  stderr: string;
}

function timeRun(cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdoutBytes += d.length));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, stdoutBytes, stderr }));
  });
}

const median = (xs: number[]) => percentile(xs, 50);
const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

// 1. Corpus.
const corpusDir = path.join(root, '.tmp', 'bench-lint-corpus');
const corpus = generateCorpus(corpusDir, FILES);
const rel = corpus.files.map((f) => path.relative(root, f));
console.log(`corpus: ${corpus.files.length} files, ${corpus.statements} statements, ${(corpus.bytes / 1024).toFixed(0)} kB (${path.relative(root, corpusDir)})`);

// 2. tandem, compiled as shipped.
const buildDir = path.join(root, '.tmp', 'bench-build');
rmSync(buildDir, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', buildDir, '--declaration', 'false', '--sourceMap', 'false'],
  {
    cwd: root,
    encoding: 'utf8',
  },
);
const tandemMain = path.join(buildDir, 'cli', 'main.js');
if (!existsSync(tandemMain)) {
  console.error(`tsc produced no build:\n${tsc.stdout}${tsc.stderr}`);
  process.exit(2);
}
if (tsc.status !== 0) console.log('note: tsc reported type errors (emitted anyway); the lint code is what is measured');
const tandem = () => timeRun(process.execPath, [tandemMain, 'lint', ...rel]);
const lintOnlyEntry = path.join(root, 'bench', 'lint-only-entry.mjs');
const tandemLintOnly = () => timeRun(process.execPath, [lintOnlyEntry, 'lint', ...rel], { TANDEM_BENCH_BUILD: buildDir });

// 3. squawk, if its binary runs here.
const squawkBin = path.join(root, 'node_modules', '.bin', 'squawk');
let squawkProblem: string | undefined;
let squawkVersion = '';
if (!existsSync(squawkBin)) squawkProblem = 'node_modules/.bin/squawk is missing (is the squawk-cli dev dependency installed?)';
else {
  const v = spawnSync(squawkBin, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) squawkProblem = `squawk does not run here: ${(v.stderr || v.stdout || String(v.error)).trim().split('\n')[0]}`;
  else squawkVersion = v.stdout.trim();
}
const squawk = () => timeRun(squawkBin, rel);

// 4. Warm up, then alternate.
const first = await tandem();
if (first.code === 2 || first.code === null) {
  console.error(`tandem lint failed on the corpus (exit ${first.code}):\n${first.stderr}`);
  process.exit(2);
}
if (!squawkProblem) {
  const w = await squawk();
  if (w.code !== 0 && w.code !== 1) squawkProblem = `squawk exited ${w.code}: ${w.stderr.trim().split('\n')[0]}`;
}
const t: number[] = [];
const s: number[] = [];
const l: number[] = [];
await tandemLintOnly();
for (let i = 0; i < RUNS; i++) {
  t.push((await tandem()).ms);
  if (!squawkProblem) s.push((await squawk()).ms);
  l.push((await tandemLintOnly()).ms);
}
const dev = await timeRun(process.execPath, [path.join(root, 'bin', 'tandem.js'), 'lint', ...rel]).catch(() => undefined);

// 5. Report.
const tMed = median(t);
const rate = (ms: number) => (corpus.files.length / (ms / 1000)).toFixed(0);
console.log(`\ntandem lint (compiled): median ${fmt(tMed)} over ${RUNS} runs → ${rate(tMed)} files/s   [runs: ${t.map((x) => fmt(x)).join(', ')}]`);
if (dev && !existsSync(path.join(root, 'dist', 'cli', 'main.js'))) {
  console.log(`tandem lint (from sources via tsx, 1 run, for information): ${fmt(dev.ms)} → ${rate(dev.ms)} files/s`);
}
const lMed = median(l);
console.log(
  `tandem lint with only the lint command's modules loaded (informational: what lazy command loading in src/cli/main.ts would give): median ${fmt(lMed)} → ${rate(lMed)} files/s`,
);
let ok = true;
if (squawkProblem) {
  console.log(`squawk: NOT MEASURED — ${squawkProblem}`);
  console.log(`tandem files/s: ${rate(tMed)} (no comparison possible)`);
} else {
  const sMed = median(s);
  const ratio = tMed / sMed;
  ok = ratio <= TARGET_RATIO;
  console.log(`squawk ${squawkVersion}: median ${fmt(sMed)} over ${RUNS} runs → ${rate(sMed)} files/s   [runs: ${s.map((x) => fmt(x)).join(', ')}]`);
  console.log(`ratio tandem/squawk wall time: ${ratio.toFixed(2)}× (target ≤ ${TARGET_RATIO}×): ${ok ? 'OK' : 'OVER TARGET'}`);
  console.log(`ratio with only the lint command loaded: ${(lMed / sMed).toFixed(2)}×`);
}
console.log(`command: node ${path.relative(root, tandemMain)} lint <${corpus.files.length} files>   vs   squawk <same files>`);
if (STRICT && !ok) process.exit(1);
