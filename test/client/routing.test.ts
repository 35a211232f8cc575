// @tier fast
/**
 * The pure parts of tandem/client: the sticky hash (share, monotone in the percentage,
 * independent per salt), version selectors, the latency histogram, health summaries, the version
 * statements (quoted), and `rollout set`'s percentage parsing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  beginOnVersionSql,
  histogramPercentile,
  LATENCY_BOUNDS_MS,
  LATENCY_BUCKETS,
  latencyBucket,
  noRollout,
  resolveVersion,
  routeKey,
  type RolloutState,
  summarizeHealth,
  versionForKey,
} from '../../src/client/index.js';
import { parsePercent } from '../../src/cli/rollout-command.js';
import { InvalidInputError } from '../../src/errors.js';
import { percentile } from '../../src/util/percentile.js';
import { seededRandom } from '../../src/util/seeded-random.js';

const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

describe('routeKey', () => {
  test('the share routed new is the percentage, within ±1 point over 20,000 keys', () => {
    for (const p of [0, 1, 5, 25, 50, 75, 99, 100]) {
      const share = (100 * keys.filter((k) => routeKey(k, p, 'salt-a') === 'new').length) / keys.length;
      assert.ok(Math.abs(share - p) <= 1, `${share}% at ${p}%`);
    }
  });

  test('monotone: a key new at p is new at every larger p', () => {
    const ps = [0, 0.5, 1, 2, 5, 10, 25, 33.33, 50, 75, 90, 99.99, 100];
    for (const k of keys.slice(0, 5_000)) {
      const sides = ps.map((p) => routeKey(k, p, 'salt-b'));
      const firstNew = sides.indexOf('new');
      if (firstNew >= 0)
        assert.ok(
          sides.slice(firstNew).every((s) => s === 'new'),
          `${k}: ${sides.join(',')}`,
        );
      assert.equal(sides.at(-1), 'new');
      assert.equal(sides[0], 'old');
    }
  });

  test('another salt picks other keys (rollouts are independent)', () => {
    const a = new Set(keys.filter((k) => routeKey(k, 10, 'migration-1') === 'new'));
    const b = keys.filter((k) => routeKey(k, 10, 'migration-2') === 'new');
    const overlap = b.filter((k) => a.has(k)).length / b.length;
    assert.ok(overlap > 0.05 && overlap < 0.15, `overlap ${overlap} (independent: about 0.10)`);
  });

  test('similar and random keys spread alike (no clustering on sequential ids)', () => {
    const rand = seededRandom(3);
    const random = Array.from({ length: 20_000 }, () => String(Math.floor(rand() * 1e15)));
    const numeric = Array.from({ length: 20_000 }, (_, i) => String(i));
    for (const set of [random, numeric]) {
      const share = (100 * set.filter((k) => routeKey(k, 25, 's') === 'new').length) / set.length;
      assert.ok(Math.abs(share - 25) <= 1, String(share));
    }
  });
});

describe('versions of a rollout state', () => {
  const state: RolloutState = {
    ...noRollout('public', 'public_0002_b', true),
    migrationId: '2',
    migrationName: '0002_b',
    oldVersion: 'public_0001_a',
    percent: 30,
    salt: 'x',
  };
  test('selectors and keys', () => {
    assert.equal(resolveVersion(state, 'latest'), 'public_0002_b');
    assert.equal(resolveVersion(state, 'previous'), 'public_0001_a');
    assert.equal(resolveVersion(state, 'public_0001_a'), 'public_0001_a');
    const none = noRollout('public', 'public_0002_b', true);
    assert.equal(resolveVersion(none, 'previous'), 'public_0002_b');
    assert.ok(
      keys.slice(0, 1000).every((k) => versionForKey(none, k) === 'public_0002_b'),
      'no migration: every key gets the latest',
    );
    const onNew = keys.filter((k) => versionForKey(state, k) === 'public_0002_b').length / keys.length;
    assert.ok(Math.abs(onNew - 0.3) < 0.01);
  });

  test('the version statements quote the name', () => {
    assert.equal(beginOnVersionSql(`we"ird'name`), `BEGIN; SET LOCAL search_path TO "we""ird'name"; SET LOCAL tandem.version TO 'we"ird''name'`);
    assert.equal(beginOnVersionSql('v1', 'use-version'), `BEGIN; SELECT tandem.use_version('v1')`);
  });
});

describe('latency histogram and health summaries', () => {
  test('a percentile from the histogram is within one bucket (25%) above the exact one', () => {
    const rand = seededRandom(9);
    const samples = Array.from({ length: 5_000 }, () => Math.exp(rand() * 8) / 10);
    const counts = new Array<number>(LATENCY_BUCKETS).fill(0);
    for (const s of samples) counts[latencyBucket(s)]!++;
    const max = Math.max(...samples);
    for (const p of [50, 90, 99]) {
      const exact = percentile(samples, p);
      const est = histogramPercentile(counts, p, max);
      assert.ok(est >= exact && est <= exact * 1.26, `p${p}: ${est} vs ${exact}`);
    }
    assert.equal(latencyBucket(0), 0);
    assert.equal(latencyBucket(1e9), LATENCY_BOUNDS_MS.length);
  });

  test('summaries add instances up and keep the rollout’s versions first', () => {
    const row = (version: string, instance: string, statements: number, errors: Record<string, number>, ms: number) => ({
      version,
      instance_id: instance,
      statements,
      errors: Object.values(errors).reduce((a, b) => a + b, 0),
      errors_by_sqlstate: errors,
      latency_sum_ms: ms * statements,
      latency_max_ms: ms,
      latency_buckets: Object.assign(new Array<number>(LATENCY_BUCKETS).fill(0), { [latencyBucket(ms)]: statements }),
    });
    const [old, neu, other] = summarizeHealth(
      [row('new', 'a', 10, { '23505': 1 }, 2), row('new', 'b', 30, { '23505': 2, '40001': 1 }, 4), row('old', 'a', 5, {}, 1), row('zzz', 'c', 1, {}, 1)],
      ['old', 'new'],
    );
    assert.deepEqual([old!.version, neu!.version, other!.version], ['old', 'new', 'zzz']);
    assert.equal(neu!.statements, 40);
    assert.equal(neu!.instances, 2);
    assert.equal(neu!.errors, 4);
    assert.equal(neu!.errorRate, 0.1);
    assert.deepEqual(neu!.errorsBySqlstate, { '23505': 3, '40001': 1 });
    assert.equal(neu!.maxMs, 4);
    assert.equal(neu!.meanMs, 3.5);
    assert.ok(neu!.p50Ms > 3 && neu!.p50Ms <= 4, String(neu!.p50Ms));
    assert.equal(summarizeHealth([], ['old'])[0]!.statements, 0);
  });
});

describe('rollout set <percent>', () => {
  test('0 to 100 with at most two decimals, else invalid input (exit 2)', () => {
    for (const [text, n] of [
      ['0', 0],
      ['25', 25],
      ['99.5', 99.5],
      ['100', 100],
      ['12.25', 12.25],
    ] as const)
      assert.equal(parsePercent(text), n);
    for (const bad of ['101', '-1', 'abc', '', '1e2', '12.345', '50%', 'NaN']) {
      assert.throws(
        () => parsePercent(bad),
        (e: unknown) => e instanceof InvalidInputError && e.exitCode === 2,
        bad,
      );
    }
  });
});
