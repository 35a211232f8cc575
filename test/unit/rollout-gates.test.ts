import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError } from '../../src/errors.js';
import { formatDuration, parseDurationMs } from '../../src/rollout/duration.js';
import { emptyHealth, firstFailure, judgeHealthGate, judgeHttpStatus, judgePromResponse, judgeSqlResult, type VersionHealth } from '../../src/rollout/gate-eval.js';
import { type GateSpec, parseGate, parseSteps } from '../../src/rollout/gate-spec.js';

const health = (statements: number, errors: number, p99Ms = 10, extra: Partial<VersionHealth> = {}): VersionHealth => ({
  ...emptyHealth(),
  statements,
  errors,
  p99Ms,
  p50Ms: p99Ms / 2,
  maxMs: p99Ms * 2,
  meanMs: p99Ms / 3,
  ...extra,
});
const healthGate = (text: string) => {
  const g = parseGate(text);
  assert.equal(g.kind, 'health');
  return g as Extract<GateSpec, { kind: 'health' }>;
};
const usage = (fn: () => unknown, field: string) =>
  assert.throws(fn, (e: unknown) => e instanceof InvalidInputError && e.exitCode === 2 && e.code === 'usage' && e.location.field === field);

describe('rollout run: durations and steps', () => {
  test('durations with units; a bare number is seconds; bad ones are usage errors naming the option', () => {
    assert.equal(parseDurationMs('500ms', '--interval'), 500);
    assert.equal(parseDurationMs('30s', '--interval'), 30_000);
    assert.equal(parseDurationMs('2m', '--interval'), 120_000);
    assert.equal(parseDurationMs('2min', '--interval'), 120_000);
    assert.equal(parseDurationMs('1.5s', '--interval'), 1500);
    assert.equal(parseDurationMs('1h', '--interval'), 3_600_000);
    assert.equal(parseDurationMs('3', '--interval'), 3000);
    for (const bad of ['', '0s', '-1s', '2 weeks', 'ms', '1d']) usage(() => parseDurationMs(bad, '--interval'), '--interval');
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(120_000), '2m');
  });

  test('steps: increasing percentages in (0, 100]', () => {
    assert.deepEqual(parseSteps('1,5,25,50,100'), [1, 5, 25, 50, 100]);
    assert.deepEqual(parseSteps(' 0.5 , 100'), [0.5, 100]);
    for (const bad of ['', '0,100', '5,5', '10,5', '1,,5', '1,101', 'a']) usage(() => parseSteps(bad), '--steps');
  });
});

describe('rollout run: parsing gates', () => {
  test('health gates: absolute and relative limits, rates and durations', () => {
    assert.deepEqual(parseGate('error-rate<0.01'), {
      kind: 'health',
      text: 'error-rate<0.01',
      metric: 'error-rate',
      inclusive: false,
      threshold: { relativeTo: 'absolute', value: 0.01 },
    });
    assert.deepEqual(healthGate('error-rate <= 1%').threshold, { relativeTo: 'absolute', value: 0.01 });
    assert.equal(healthGate('error-rate <= 1%').inclusive, true);
    assert.deepEqual(healthGate('p99<200ms').threshold, { relativeTo: 'absolute', value: 200 });
    assert.deepEqual(healthGate('p99<0.2s').threshold, { relativeTo: 'absolute', value: 200 });
    assert.deepEqual(healthGate('p50<15').threshold, { relativeTo: 'absolute', value: 15 });
    assert.deepEqual(healthGate('p99<old*1.5').threshold, { relativeTo: 'old', plus: 0, times: 1.5 });
    assert.deepEqual(healthGate('p99<old+50ms').threshold, { relativeTo: 'old', plus: 50, times: 1 });
    assert.deepEqual(healthGate('error-rate<old+0.005').threshold, { relativeTo: 'old', plus: 0.005, times: 1 });
    assert.deepEqual(healthGate('max<=old').threshold, { relativeTo: 'old', plus: 0, times: 1 });
  });

  test('sql, http and prom gates', () => {
    assert.deepEqual(parseGate('sql: SELECT count(*) = 0 FROM t'), { kind: 'sql', text: 'sql: SELECT count(*) = 0 FROM t', query: 'SELECT count(*) = 0 FROM t' });
    assert.deepEqual(parseGate('http:http://127.0.0.1:8080/healthz'), { kind: 'http', text: 'http:http://127.0.0.1:8080/healthz', url: 'http://127.0.0.1:8080/healthz' });
    const prom = parseGate('prom:http://127.0.0.1:9090|sum(rate(x[1m])) < bool 1');
    assert.deepEqual(prom, { kind: 'prom', text: prom.text, baseUrl: 'http://127.0.0.1:9090/', query: 'sum(rate(x[1m])) < bool 1' });
  });

  test('malformed gates are usage errors on --gate, each with a hint', () => {
    for (const bad of [
      'errors<0.01',
      'error-rate>0.01',
      'error-rate<',
      'error-rate<2',
      'error-rate<abc',
      'p99<fast',
      'p99<old*',
      'p99<old*-1',
      'p99<new',
      'sql:',
      'http:',
      'http:ftp://x',
      'http:not a url',
      'prom:http://x',
      'prom:http://x|',
      'prom:nope|up',
    ]) {
      usage(() => parseGate(bad), '--gate');
    }
  });
});

describe('rollout run: judging health gates', () => {
  test('absolute error rate: below passes, at or above fails (<=: at passes)', () => {
    const g = healthGate('error-rate<0.01');
    assert.equal(judgeHealthGate(g, { new: health(1000, 9), old: health(1000, 0) }, 5).passed, true);
    const fail = judgeHealthGate(g, { new: health(1000, 10, 10, { errorsBySqlstate: { '23514': 8, '40001': 2 } }), old: health(1000, 0) }, 5);
    assert.equal(fail.passed, false);
    assert.equal(fail.judged, true);
    assert.equal(fail.observed, 0.01);
    assert.match(fail.detail, /1 % over 1000 statements; limit 1 %; errors: 23514 ×8, 40001 ×2/);
    assert.equal(judgeHealthGate(healthGate('error-rate<=0.01'), { new: health(1000, 10), old: health(1, 0) }, 5).passed, true);
  });

  test('too few statements of the new version: passes, unjudged, and says why', () => {
    const v = judgeHealthGate(healthGate('error-rate<0.01'), { new: health(4, 4), old: health(1000, 0) }, 5);
    assert.deepEqual([v.passed, v.judged], [true, false]);
    assert.match(v.detail, /4 statements .* too few/);
    // --min-statements 0 still needs one statement: a rate over nothing is no evidence.
    assert.equal(judgeHealthGate(healthGate('error-rate<0.01'), { new: health(0, 0), old: health(1000, 0) }, 0).judged, false);
    assert.equal(judgeHealthGate(healthGate('error-rate<0.01'), { new: health(1, 1), old: health(1000, 0) }, 0).passed, false);
  });

  test('relative limits compare with the old version; without old traffic they are unjudged', () => {
    const g = healthGate('p99<old*1.5');
    assert.equal(judgeHealthGate(g, { new: health(100, 0, 14), old: health(100, 0, 10) }, 5).passed, true);
    const slow = judgeHealthGate(g, { new: health(100, 0, 16), old: health(100, 0, 10) }, 5);
    assert.deepEqual([slow.passed, slow.observed, slow.limit], [false, 16, 15]);
    assert.match(slow.detail, /old version: 10 ms/);
    assert.equal(judgeHealthGate(g, { new: health(100, 0, 16), old: health(0, 0) }, 5).judged, false);
    const plus = healthGate('error-rate<old+0.01');
    assert.equal(judgeHealthGate(plus, { new: health(100, 3), old: health(100, 3) }, 5).passed, true);
    assert.equal(judgeHealthGate(plus, { new: health(100, 6), old: health(100, 4) }, 5).passed, false);
  });

  test('latency metrics read their own field', () => {
    const facts = { new: health(100, 0, 100), old: health(100, 0) };
    assert.equal(judgeHealthGate(healthGate('p50<60ms'), facts, 1).passed, true);
    assert.equal(judgeHealthGate(healthGate('max<150ms'), facts, 1).passed, false);
    assert.equal(judgeHealthGate(healthGate('mean<30ms'), facts, 1).passed, false);
  });
});

describe('rollout run: judging sql, http and prom results', () => {
  const sql = parseGate('sql:SELECT true');
  const prom = parseGate('prom:http://p:9090|up');
  test('sql: exactly one boolean, true passes', () => {
    assert.equal(judgeSqlResult(sql, [{ ok: true }]).passed, true);
    assert.equal(judgeSqlResult(sql, [{ ok: false }]).passed, false);
    assert.match(judgeSqlResult(sql, [{ ok: null }]).detail, /NULL, not a boolean/);
    assert.match(judgeSqlResult(sql, [{ n: 1 }]).detail, /a number, not a boolean/);
    assert.match(judgeSqlResult(sql, []).detail, /0 rows/);
    assert.match(judgeSqlResult(sql, [{ a: true }, { a: true }]).detail, /2 rows/);
    assert.match(judgeSqlResult(sql, [{ a: true, b: true }]).detail, /2 columns/);
  });

  test('http: 2xx passes', () => {
    assert.equal(judgeHttpStatus(parseGate('http:http://x/'), 204, 'No Content').passed, true);
    assert.equal(judgeHttpStatus(parseGate('http:http://x/'), 302, 'Found').passed, false);
    assert.equal(judgeHttpStatus(parseGate('http:http://x/'), 503, '').passed, false);
  });

  test('prom: success with samples that are all non-zero passes; empty, zero, NaN and errors fail', () => {
    const vector = (...values: string[]) => ({ status: 'success', data: { resultType: 'vector', result: values.map((v) => ({ metric: {}, value: [1, v] })) } });
    assert.equal(judgePromResponse(prom, vector('1', '1')).passed, true);
    assert.equal(judgePromResponse(prom, vector('0.5')).passed, true);
    assert.equal(judgePromResponse(prom, vector('1', '0')).passed, false);
    assert.equal(judgePromResponse(prom, vector('NaN')).passed, false);
    assert.match(judgePromResponse(prom, vector()).detail, /no sample/);
    assert.equal(judgePromResponse(prom, { status: 'success', data: { resultType: 'scalar', result: [1, '1'] } }).passed, true);
    assert.equal(judgePromResponse(prom, { status: 'success', data: { resultType: 'scalar', result: [1, '0'] } }).passed, false);
    assert.match(judgePromResponse(prom, { status: 'success', data: { resultType: 'matrix', result: [] } }).detail, /matrix is not a vector/);
    assert.match(judgePromResponse(prom, { status: 'error', errorType: 'bad_data', error: 'parse error at char 3' }).detail, /parse error at char 3/);
    assert.equal(judgePromResponse(prom, 'not json').passed, false);
  });

  test('the first failure is the first failing gate in the order given', () => {
    const verdicts = [judgeHttpStatus(parseGate('http:http://a/'), 200, ''), judgeHttpStatus(parseGate('http:http://b/'), 500, ''), judgeSqlResult(sql, [{ x: false }])];
    assert.equal(firstFailure(verdicts)?.gate, 'http:http://b/');
    assert.equal(firstFailure(verdicts.slice(0, 1)), undefined);
  });
});
