/**
 * `tandem rollout run` through the real CLI on a real database (no traffic: the health gates are
 * unjudged, the sql/http/prom gates decide). Bad options are exit 2 with nothing changed; a run
 * whose gates pass widens step by step and leaves the last percentage; a gate that fails routes
 * 0% at once, exits 1 naming it, and leaves the migration in progress; a second run resumes above
 * the current percentage.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RolloutRunResult } from '../../src/rollout/run.js';
import type { TestDatabase } from '../helpers/db.js';
import { startedMigration } from '../client/support.js';
import { runCli } from '../helpers/cli.js';

/** A stand-in for an app's health endpoint and for Prometheus' HTTP API (/api/v1/query), answering what the test says. */
function fakeEndpoints() {
  const state = { healthStatus: 200, promValue: '1', promQueries: [] as string[] };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/healthz') {
      res.writeHead(state.healthStatus).end();
    } else if (url.pathname === '/prom/api/v1/query') {
      state.promQueries.push(url.searchParams.get('query') ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, state.promValue] }] } }));
    } else res.writeHead(404).end();
  });
  return { state, server };
}

describe('tandem rollout run', () => {
  let db: TestDatabase;
  const { state, server } = fakeEndpoints();
  let base = '';
  const cli = (args: string[]) => runCli(['--database-url', db.url, ...args]);
  const percent = async () => Number((await db.query(`SELECT percent FROM tandem.rollouts WHERE schema_name = 'public'`)).rows[0].percent);
  const auditSteps = async () => (await db.query<{ step_id: string }>(`SELECT step_id FROM tandem.audit_log WHERE phase = 'rollout' ORDER BY id`)).rows.map((r) => r.step_id);
  const fast = ['--interval', '300ms', '--check-every', '100ms'];

  before(async () => {
    ({ db } = await startedMigration());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await db?.drop();
  });

  test('bad options and bad gates: exit 2, the option named, nothing changed', async () => {
    for (const [args, pattern] of [
      [['--gate', 'errors<1'], /--gate.*not a gate/],
      [['--gate', 'p99<fast'], /not a duration/],
      [['--steps', '5,1'], /--steps.*does not increase/],
      [['--interval', '0s'], /--interval.*invalid duration/],
      [['--interval', '1s', '--check-every', '2s'], /--check-every is longer than --interval/],
      [['--gate', 'sql:SELEC 1'], /--gate.*syntax error.*SQLSTATE 42601/],
      [['--gate', 'sql:SELECT ok FROM no_such_table'], /no_such_table.*SQLSTATE 42P01/],
      [['--on-fail', 'explode'], /explode/],
    ] as const) {
      const r = await cli(['rollout', 'run', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
    const json = await cli(['--json', 'rollout', 'run', '--gate', 'sql:SELEC 1']);
    assert.equal(json.code, 2);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'invalid-sql');
    assert.equal(await percent(), 0);
    assert.deepEqual(await auditSteps(), []);
  });

  test('gates that pass: every step taken in order, the last percentage kept, exit 0', async () => {
    const r = await cli([
      '--json',
      'rollout',
      'run',
      '--steps',
      '10,50,100',
      ...fast,
      '--gate',
      'error-rate<0.01',
      '--gate',
      "sql:SELECT count(*) = 50 FROM users",
      '--gate',
      `http:${base}/healthz`,
      '--gate',
      `prom:${base}/prom|sum(up) > bool 0`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as RolloutRunResult;
    assert.equal(result.outcome, 'passed');
    assert.equal(result.percent, 100);
    assert.deepEqual(
      result.steps.map((s) => s.percent),
      [10, 50, 100],
    );
    // Judged before the first step and at least twice in each 300 ms step (every 100 ms).
    for (const s of result.steps) assert.ok(s.checks >= 2, `${s.percent}%: ${s.checks} checks`);
    assert.ok(state.promQueries.length >= 7 && state.promQueries.every((q) => q === 'sum(up) > bool 0'));
    assert.equal(await percent(), 100);
    assert.deepEqual(await auditSteps(), ['percent 10', 'percent 50', 'percent 100']);
  });

  test('a failing gate routes 0% at once, exits 1 naming it; without --on-fail rollback the migration stays in progress', async () => {
    await cli(['rollout', 'set', '0']);
    state.healthStatus = 503;
    const r = await cli(['--json', 'rollout', 'run', '--steps', '20,100', ...fast, '--gate', `http:${base}/healthz`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: gate http:.*\/healthz failed: HTTP 503/);
    const result = JSON.parse(r.stdout) as RolloutRunResult;
    // Judged before the first step: nothing was widened.
    assert.deepEqual([result.outcome, result.percent, result.steps.length, result.failure?.atPercent, result.failure?.rolledBack], ['gate-failed', 0, 0, 0, false]);
    state.healthStatus = 200;

    // Fails during a step: the prom value drops to 0 while the run holds 20%.
    state.promValue = '1';
    const running = cli(['--json', 'rollout', 'run', '--steps', '20,100', '--interval', '5s', '--check-every', '100ms', '--gate', `prom:${base}/prom|up`]);
    for (let t0 = Date.now(); (await percent()) !== 20 && Date.now() - t0 < 10_000; ) await new Promise((res) => setTimeout(res, 20));
    assert.equal(await percent(), 20);
    state.promValue = '0';
    const t = Date.now();
    const failed = await running;
    assert.equal(failed.code, 1, failed.stderr);
    assert.ok(Date.now() - t < 3_000, 'caught well within the step interval');
    const f = JSON.parse(failed.stdout) as RolloutRunResult;
    assert.deepEqual([f.failure?.gate, f.failure?.atPercent, f.percent], [`prom:${base}/prom|up`, 20, 0]);
    assert.match(f.failure!.detail, /1 sample: 0 \(1 zero or NaN\)/);
    assert.equal(await percent(), 0);
    const phase = await db.query(`SELECT phase FROM tandem.migrations WHERE phase = 'active'`);
    assert.equal(phase.rowCount, 1);
    state.promValue = '1';
  });

  test('a run resumes above the current percentage: keys never move back from new to old', async () => {
    await cli(['rollout', 'set', '50']);
    const r = await cli(['--json', 'rollout', 'run', '--steps', '1,25,50,100', ...fast]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as RolloutRunResult).steps.map((s) => s.percent),
      [100],
    );
  });

  test('no migration in progress: exit 2', async () => {
    assert.equal((await cli(['complete'])).code, 0);
    const r = await cli(['--json', 'rollout', 'run', ...fast]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'not-in-progress');
  });
});
