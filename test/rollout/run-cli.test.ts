/**
 * `tandem rollout run` on a real database, through the real CLI (exit codes, --json, stderr) and
 * in-process (runRollout, for the cases where a CLI start-up per case would cost too much); no
 * traffic, so the health gates are unjudged and the sql/http/prom gates decide. Bad options are exit 2 with nothing changed; a run
 * whose gates pass widens step by step and leaves the last percentage; a gate that fails routes
 * 0% at once, exits 1 naming it, and leaves the migration in progress; a second run resumes above
 * the current percentage.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { complete } from '../../src/engine/lifecycle.js';
import { RunnerBusyError, StateError } from '../../src/errors.js';
import { parseGate } from '../../src/rollout/gate-spec.js';
import { type RolloutRunOptions, type RolloutRunResult, runRollout } from '../../src/rollout/run.js';
import { setRollout } from '../../src/state/rollout-store.js';
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
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, state.promValue] }] } }));
    } else res.writeHead(404).end();
  });
  return { state, server };
}

describe('tandem rollout run', () => {
  let db: TestDatabase;
  let engine: pg.Client;
  const { state, server } = fakeEndpoints();
  let base = '';
  const cli = (args: string[]) => runCli(['--database-url', db.url, ...args]);
  const percent = async () => Number((await db.query(`SELECT percent FROM tandem.rollouts WHERE schema_name = 'public'`)).rows[0].percent);
  const auditSteps = async () => (await db.query<{ step_id: string }>(`SELECT step_id FROM tandem.audit_log WHERE phase = 'rollout' ORDER BY id`)).rows.map((r) => r.step_id);
  const fast = ['--interval', '300ms', '--check-every', '100ms'];
  const inProcess = (o: Partial<RolloutRunOptions>, client: pg.Client = engine) =>
    runRollout(client, {
      schema: 'public',
      steps: [20, 100],
      intervalMs: 300,
      checkEveryMs: 100,
      windowMs: 300,
      minStatements: 5,
      gates: [],
      onFail: 'stop',
      drainMs: 0,
      probeTimeoutMs: 2_000,
      engine: { lockTimeoutMs: 1_000 },
      ...o,
    });

  before(async () => {
    ({ db, engine } = await startedMigration());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await db?.drop();
  });

  test('an sql gate that does not parse: exit 2, the option named, nothing changed (the other malformed gates: test/unit/rollout-gates.test.ts)', async () => {
    // An sql: gate is run once before anything changes: one that does not parse is a usage error.
    const json = await cli(['--json', 'rollout', 'run', '--gate', 'sql:SELEC 1']);
    assert.equal(json.code, 2, json.stderr);
    assert.match(json.stderr, /--gate.*syntax error.*SQLSTATE 42601/);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'invalid-sql');
    await assert.rejects(inProcess({ gates: [parseGate('sql:SELECT ok FROM no_such_table')] }), /no_such_table.*SQLSTATE 42P01/);
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
      'sql:SELECT count(*) = 50 FROM users',
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

  test('a failing gate routes 0% at once and names itself; without --on-fail rollback the migration stays in progress', async () => {
    await setRollout(engine, 'public', 0);
    state.healthStatus = 503;
    const r = await inProcess({ gates: [parseGate(`http:${base}/healthz`)] });
    assert.match(r.failure!.detail, /HTTP 503/);
    // Judged before the first step: nothing was widened. (Exit 1 and stderr through the CLI: test/rollout/auto-rollback.test.ts.)
    assert.deepEqual([r.outcome, r.percent, r.steps.length, r.failure?.atPercent, r.failure?.rolledBack], ['gate-failed', 0, 0, 0, false]);
    state.healthStatus = 200;

    // Fails during a step: the prom value drops to 0 while the run holds 20%.
    state.promValue = '1';
    const gate = `prom:${base}/prom|up`;
    const running = inProcess({ intervalMs: 5_000, gates: [parseGate(gate)] });
    for (let t0 = Date.now(); (await percent()) !== 20 && Date.now() - t0 < 10_000;) await new Promise((res) => setTimeout(res, 20));
    assert.equal(await percent(), 20);
    state.promValue = '0';
    const t = Date.now();
    const f = await running;
    assert.ok(Date.now() - t < 2_000, 'caught well within the step interval');
    assert.deepEqual([f.outcome, f.failure?.gate, f.failure?.atPercent, f.percent], ['gate-failed', gate, 20, 0]);
    assert.match(f.failure!.detail, /1 sample: 0 \(1 zero or NaN\)/);
    assert.equal(await percent(), 0);
    const phase = await db.query(`SELECT phase FROM tandem.migrations WHERE phase = 'active'`);
    assert.equal(phase.rowCount, 1);
    state.promValue = '1';
  });

  test('one run per schema: a second one, on another connection, is refused while the first holds', async () => {
    await setRollout(engine, 'public', 0);
    const first = inProcess({ steps: [100], intervalMs: 1_000 });
    for (let t0 = Date.now(); (await percent()) !== 100 && Date.now() - t0 < 10_000;) await new Promise((res) => setTimeout(res, 20));
    const other = await db.connect('second-runner');
    await assert.rejects(inProcess({}, other), (e: unknown) => e instanceof RunnerBusyError && e.code === 'runner-busy');
    assert.equal((await first).outcome, 'passed');
  });

  test('a run resumes above the current percentage (keys never move back from new to old); no migration in progress is a state error', async () => {
    await setRollout(engine, 'public', 50);
    const r = await inProcess({ steps: [1, 25, 50, 100] });
    assert.deepEqual(
      r.steps.map((s) => s.percent),
      [100],
    );
    await complete(engine, { lockTimeoutMs: 1_000 });
    await assert.rejects(inProcess({}), (e: unknown) => e instanceof StateError && e.code === 'not-in-progress' && e.exitCode === 2);
  });
});
