/**
 * The measurements of bench:client (see main.ts): facts gathered here, judged against the
 * targets in `judge`, rendered in `render`.
 */
import pg from 'pg';
import { beginOnVersionSql, type VersionRouter, versionRouter } from '../../src/client/index.js';
import { qualified } from '../../src/sql/ident.js';
import { setRollout } from '../../src/state/rollout-store.js';
import { percentiles } from '../../src/util/percentile.js';
import { seededRandom } from '../../src/util/seeded-random.js';
import { scratchDatabase } from './setup.js';

export interface BenchConfig {
  instances: number;
  keysPerInstance: number;
  sets: number;
  rows: number;
  clients: number;
  roundSeconds: number;
  rounds: number;
  databaseUrl: string | undefined;
}

interface Instance {
  pool: pg.Pool;
  router: VersionRouter;
}

export interface Figures {
  config: Omit<BenchConfig, 'databaseUrl'>;
  share25: { overall: number; worstInstance: number };
  share50: number;
  stickyViolations: number;
  crossInstanceDisagreements: number;
  movedNewToOld: number;
  propagation: { perInstanceMs: { p50: number; p99: number; max: number }; allInstancesMs: { p50: number; p99: number; max: number } };
  throughput: {
    routedTps: number;
    handWiredTps: number;
    bareTps: number;
    ratioToHandWired: number;
    ratioToBare: number;
    rounds: Record<'routed' | 'handWired' | 'bare', number>[];
  };
  routeNsPerCall: number;
}

export async function runClientBench(config: BenchConfig, log: (m: string) => void): Promise<{ text: string; figures: Figures; missed: string[] }> {
  const db = await scratchDatabase(config.databaseUrl, config.rows, log);
  const instances: Instance[] = [];
  try {
    for (let i = 0; i < config.instances; i++) {
      const pool = new pg.Pool({ connectionString: db.url, max: 2, application_name: `bench-app-${i}` });
      pool.on('error', () => undefined);
      instances.push({ pool, router: await versionRouter({ pool, schema: 'public' }) });
    }
    log(`${instances.length} instances routing`);
    const set = async (percent: number) => {
      await setRollout(db.engine, 'public', percent);
      await untilAll(instances, percent, 5_000);
    };
    await set(25);
    const share25 = shareAt(instances, config.keysPerInstance, db.newVersion);
    const sticky = stickiness(instances, 2_000);
    const at25 = sampleKeys(2_000).map((k) => instances[0]!.router.versionFor(k));
    await new Promise((r) => setTimeout(r, 1_200)); // a few polls later: still the same
    const stickyViolations = sticky.violations + sampleKeys(2_000).filter((k, i) => instances[0]!.router.versionFor(k) !== at25[i]).length;
    await set(50);
    const movedNewToOld = sampleKeys(2_000).filter((k, i) => at25[i] === db.newVersion && instances[0]!.router.versionFor(k) !== db.newVersion).length;
    const share50 = shareAt(instances, config.keysPerInstance, db.newVersion).overall;
    log('timing rollout changes');
    const propagation = await timePropagation(instances, config.sets, (p) => setRollout(db.engine, 'public', p));
    await set(25);
    log('throughput: routed vs plain pool transactions');
    const throughput = await compareThroughput(db.url, db.newVersion, config);
    const figures: Figures = {
      config: withoutUrl(config),
      share25,
      share50,
      stickyViolations,
      crossInstanceDisagreements: sticky.disagreements,
      movedNewToOld,
      propagation,
      throughput,
      routeNsPerCall: routeCost(instances[0]!.router),
    };
    const missed = judge(figures);
    return { text: render(figures, missed), figures, missed };
  } finally {
    await Promise.all(instances.map(async (i) => (await i.router.close(), await i.pool.end())));
    await db.drop();
  }
}

function withoutUrl(config: BenchConfig): Omit<BenchConfig, 'databaseUrl'> {
  const { databaseUrl: _url, ...rest } = config;
  void _url;
  return rest;
}

async function untilAll(instances: Instance[], percent: number, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  while (!instances.every((i) => i.router.state().percent === percent)) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`instances did not learn ${percent}% within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sampleKeys = (n: number) => Array.from({ length: n }, (_, i) => `user-${i * 7919}`);

/** Share of random keys each instance sends to the new version. */
function shareAt(instances: Instance[], keys: number, newVersion: string): { overall: number; worstInstance: number } {
  let total = 0;
  const target = instances[0]!.router.state().percent;
  let worst = target;
  instances.forEach((inst, i) => {
    const rand = seededRandom(1_000 + i);
    let onNew = 0;
    for (let k = 0; k < keys; k++) if (inst.router.versionFor(`user-${Math.floor(rand() * 1e12)}`) === newVersion) onNew++;
    total += onNew;
    const share = (100 * onNew) / keys;
    if (Math.abs(share - target) > Math.abs(worst - target)) worst = share;
  });
  return { overall: (100 * total) / (keys * instances.length), worstInstance: worst };
}

/** The same keys on every instance, twice: how many answers differ. */
function stickiness(instances: Instance[], n: number): { violations: number; disagreements: number } {
  let violations = 0;
  let disagreements = 0;
  for (const k of sampleKeys(n)) {
    const first = instances[0]!.router.versionFor(k);
    for (const inst of instances) {
      const a = inst.router.versionFor(k);
      if (a !== inst.router.versionFor(k)) violations++;
      if (a !== first) disagreements++;
    }
  }
  return { violations, disagreements };
}

/** From just before each change is written until each instance (and the last of them) routes by it. */
async function timePropagation(instances: Instance[], sets: number, write: (p: number) => Promise<unknown>): Promise<Figures['propagation']> {
  const rand = seededRandom(42);
  const perInstance: number[] = [];
  const allInstances: number[] = [];
  let current = instances[0]!.router.state().percent;
  for (let s = 0; s < sets; s++) {
    let target = Math.round(rand() * 10_000) / 100;
    if (target === current) target = (target + 1) % 100;
    const seen = new Map<number, number>();
    const offs = instances.map((inst, i) => inst.router.on('change', (st) => st.percent === target && !seen.has(i) && seen.set(i, performance.now())));
    const t0 = performance.now();
    await write(target);
    await untilAll(instances, target, 10_000);
    offs.forEach((off) => off());
    const times = instances.map((_, i) => (seen.get(i) ?? performance.now()) - t0);
    perInstance.push(...times);
    allInstances.push(Math.max(...times));
    current = target;
    await new Promise((r) => setTimeout(r, 20));
  }
  const [a50, a99, aMax] = percentiles(perInstance, [50, 99, 100]);
  const [b50, b99, bMax] = percentiles(allInstances, [50, 99, 100]);
  return { perInstanceMs: { p50: a50!, p99: a99!, max: aMax! }, allInstancesMs: { p50: b50!, p99: b99!, max: bMax! } };
}

/**
 * Transactions per second of three ways to run the same transaction (a select by primary key),
 * with the same version mix (25% on the new version):
 *  - routed: router.transaction (the sticky hash, the state, the begin statement, health counted);
 *  - hand-wired: what an app does today without the router: BEGIN with the same SET LOCALs, the
 *    version picked by the app (id % 4), the same select, COMMIT. routed / hand-wired is the cost
 *    of routing itself;
 *  - bare: BEGIN, the select schema-qualified, COMMIT: no per-transaction version at all.
 *    routed / bare also counts the SET LOCALs any per-transaction version selection needs.
 * The three run AT THE SAME TIME, each with its own pool of `clients` connections and `clients`
 * workers, so that the noise of a shared machine hits all three alike; the ratios are of counts
 * in the same window, averaged over the rounds.
 */
async function compareThroughput(url: string, newVersion: string, config: BenchConfig): Promise<Figures['throughput']> {
  const pools = (['routed', 'handWired', 'bare'] as const).map((w) => {
    const pool = new pg.Pool({ connectionString: url, max: config.clients, application_name: `bench-${w}` });
    pool.on('error', () => undefined);
    return pool;
  });
  const [routedPool, handPool, barePool] = pools as [pg.Pool, pg.Pool, pg.Pool];
  const router = await versionRouter({ pool: routedPool, schema: 'public' });
  const rand = seededRandom(7);
  const id = () => 1 + Math.floor(rand() * config.rows);
  const versionOf = (i: number) => (i % 4 === 0 ? newVersion : 'public');
  const begin = new Map(['public', newVersion].map((v) => [v, beginOnVersionSql(v)]));
  const byHand = async (pool: pg.Pool, beginSql: (i: number) => string, text: (i: number) => string) => {
    const i = id();
    const c = await pool.connect();
    try {
      await c.query(beginSql(i));
      await c.query(text(i), [i]);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  };
  const ways: Record<Way, () => Promise<void>> = {
    routed: async () => {
      const i = id();
      await router.transaction(`user-${i}`, (c) => c.query('SELECT * FROM users WHERE id = $1', [i]));
    },
    handWired: () =>
      byHand(
        handPool,
        (i) => begin.get(versionOf(i))!,
        () => 'SELECT * FROM users WHERE id = $1',
      ),
    bare: () =>
      byHand(
        barePool,
        () => 'BEGIN',
        (i) => `SELECT * FROM ${qualified(versionOf(i), 'users')} WHERE id = $1`,
      ),
  };
  const together = async (seconds: number): Promise<Record<Way, number>> => {
    const [routed, handWired, bare] = await Promise.all([
      runFor(ways.routed, config.clients, seconds),
      runFor(ways.handWired, config.clients, seconds),
      runFor(ways.bare, config.clients, seconds),
    ]);
    return { routed: routed!, handWired: handWired!, bare: bare! };
  };
  try {
    await together(0.5); // warm-up
    const rounds: Record<Way, number>[] = [];
    for (let r = 0; r < config.rounds; r++) rounds.push(await together(config.roundSeconds));
    const mean = (f: (x: Record<Way, number>) => number) => rounds.reduce((sum, x) => sum + f(x), 0) / rounds.length;
    return {
      routedTps: mean((x) => x.routed),
      handWiredTps: mean((x) => x.handWired),
      bareTps: mean((x) => x.bare),
      ratioToHandWired: mean((x) => x.routed / x.handWired),
      ratioToBare: mean((x) => x.routed / x.bare),
      rounds,
    };
  } finally {
    await router.close();
    await Promise.all(pools.map((p) => p.end()));
  }
}

type Way = 'routed' | 'handWired' | 'bare';

/** Transactions per second of `op` run by `workers` concurrent loops for `seconds`. */
async function runFor(op: () => Promise<void>, workers: number, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1_000;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) {
        await op();
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1_000);
}

/** Nanoseconds per versionFor call (the hash and the state lookup). */
function routeCost(router: VersionRouter): number {
  const n = 200_000;
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink += router.versionFor(`user-${i}`).length;
  if (sink === 0) throw new Error('unreachable'); // keeps the loop from being optimised away
  return ((performance.now() - t0) * 1e6) / n;
}

function judge(f: Figures): string[] {
  const missed: string[] = [];
  if (Math.abs(f.share25.overall - 25) > 3) missed.push(`share at 25%: ${f.share25.overall.toFixed(2)}%`);
  if (Math.abs(f.share50 - 50) > 3) missed.push(`share at 50%: ${f.share50.toFixed(2)}%`);
  if (f.stickyViolations + f.crossInstanceDisagreements > 0) missed.push('stickiness');
  if (f.movedNewToOld > 0) missed.push(`${f.movedNewToOld} keys moved new → old`);
  if (f.propagation.allInstancesMs.p99 > 1_000) missed.push(`propagation p99 ${f.propagation.allInstancesMs.p99.toFixed(0)} ms`);
  if (f.throughput.ratioToHandWired < 0.95) missed.push(`routed / hand-wired throughput ${f.throughput.ratioToHandWired.toFixed(3)}`);
  return missed;
}

function render(f: Figures, missed: string[]): string {
  const ok = (good: boolean) => (good ? 'ok' : 'MISSED');
  const p = f.propagation;
  return [
    `# bench:client — ${f.config.instances} instances`,
    '',
    '| measure | value | target | |',
    '|---|---|---|---|',
    `| share on new at 25% (${f.config.instances} × ${f.config.keysPerInstance} random keys) | ${f.share25.overall.toFixed(2)}% (worst instance ${f.share25.worstInstance.toFixed(2)}%) | 25 ± 3 | ${ok(Math.abs(f.share25.overall - 25) <= 3)} |`,
    `| share on new at 50% | ${f.share50.toFixed(2)}% | 50 ± 3 | ${ok(Math.abs(f.share50 - 50) <= 3)} |`,
    `| same key, same version (repeat, later, every instance) | ${f.stickyViolations} changes, ${f.crossInstanceDisagreements} disagreements | 0 | ${ok(f.stickyViolations + f.crossInstanceDisagreements === 0)} |`,
    `| keys new → old after 25% → 50% | ${f.movedNewToOld} | 0 | ${ok(f.movedNewToOld === 0)} |`,
    `| rollout change → every instance routes by it (${f.config.sets} changes) | p50 ${p.allInstancesMs.p50.toFixed(1)} ms, p99 ${p.allInstancesMs.p99.toFixed(1)} ms, max ${p.allInstancesMs.max.toFixed(1)} ms | p99 ≤ 1000 ms | ${ok(p.allInstancesMs.p99 <= 1_000)} |`,
    `| … per instance | p50 ${p.perInstanceMs.p50.toFixed(1)} ms, p99 ${p.perInstanceMs.p99.toFixed(1)} ms | | |`,
    `| routed / hand-wired per-transaction version (${f.config.clients} clients each, run together, ${f.config.rounds} × ${f.config.roundSeconds} s) | ${f.throughput.routedTps.toFixed(0)} / ${f.throughput.handWiredTps.toFixed(0)} tx/s = ${f.throughput.ratioToHandWired.toFixed(3)} | ≥ 0.95 | ${ok(f.throughput.ratioToHandWired >= 0.95)} |`,
    `| routed / bare pool transaction (no version set at all) | ${f.throughput.routedTps.toFixed(0)} / ${f.throughput.bareTps.toFixed(0)} tx/s = ${f.throughput.ratioToBare.toFixed(3)} | (reported) | |`,
    `| versionFor cost | ${f.routeNsPerCall.toFixed(0)} ns per call | | |`,
    '',
    `rounds (routed / hand-wired / bare tx/s): ${f.throughput.rounds.map((r) => `${r.routed.toFixed(0)}/${r.handWired.toFixed(0)}/${r.bare.toFixed(0)}`).join(', ')}`,
    missed.length ? `targets missed: ${missed.join('; ')}` : 'every target met',
  ].join('\n');
}
