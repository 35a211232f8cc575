/**
 * Start-up time of the built CLI (what an installed `tandem` runs), against bare `node -e ""` timed
 * in the same run, so the ratios hold on a slower or busier machine.
 *   npm run bench:startup                 # 20 runs of each, interleaved
 *   npm run bench:startup -- --runs 50 --build --json
 * Each run is a fresh process, wall time from spawn to exit. No database is configured, so
 * `validate` checks the file alone, as in a pull request's CI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { percentile } from '../src/util/percentile.js';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(value('--runs') ?? 20);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('bench:startup: --runs expects a positive integer');
  process.exit(2);
}

const main = path.join(root, 'dist', 'cli', 'main.js');
if (flag('--build') || !existsSync(main)) {
  console.error(`bench:startup: building dist/ (npm run build)…`);
  const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0 && !existsSync(main)) process.exit(1);
}

const example = path.join('examples', '01_create_users.yaml');
const cases: { name: string; argv: string[] }[] = [
  { name: 'node -e ""', argv: ['-e', ''] },
  { name: 'tandem --version', argv: [main, '--version'] },
  { name: 'tandem --help', argv: [main, '--help'] },
  { name: `tandem validate ${example}`, argv: [main, 'validate', example] },
];
const env: NodeJS.ProcessEnv = { ...process.env };
for (const k of ['TANDEM_DATABASE_URL', 'DATABASE_URL', 'NODE_OPTIONS']) delete env[k];

const samples = cases.map(() => [] as number[]);
// One warm-up of each (file system cache), then the runs, interleaved so drift hits all alike.
for (let r = -1; r < runs; r++) {
  cases.forEach((c, i) => {
    const t0 = process.hrtime.bigint();
    const res = spawnSync(process.execPath, c.argv, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.status !== 0) {
      console.error(`bench:startup: ${c.name} exited ${res.status ?? res.signal}: ${res.stderr.toString().trim()}`);
      process.exit(1);
    }
    if (r >= 0) samples[i]!.push(ms);
  });
}

const baseline = percentile(samples[0]!, 50);
const rows = cases.map((c, i) => {
  const s = samples[i]!;
  const p50 = percentile(s, 50);
  return { command: c.name, runs: s.length, p50Ms: round(p50), p90Ms: round(percentile(s, 90)), minMs: round(percentile(s, 0)), ratioToNode: round(p50 / baseline, 2) };
});

if (flag('--json')) {
  process.stdout.write(`${JSON.stringify({ node: process.version, runs, results: rows }, null, 2)}\n`);
} else {
  console.log(`start-up time, ${runs} runs each (node ${process.version}; medians, wall time from spawn to exit)`);
  const w = Math.max(...rows.map((r) => r.command.length));
  console.log(`  ${'command'.padEnd(w)}  ${'p50 ms'.padStart(8)}  ${'p90 ms'.padStart(8)}  ${'min ms'.padStart(8)}  × node`);
  for (const r of rows) {
    console.log(`  ${r.command.padEnd(w)}  ${r.p50Ms.toFixed(1).padStart(8)}  ${r.p90Ms.toFixed(1).padStart(8)}  ${r.minMs.toFixed(1).padStart(8)}  ${r.ratioToNode.toFixed(2)}`);
  }
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
