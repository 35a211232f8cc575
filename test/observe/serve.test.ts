import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { killSpawned, spawnCli, waitFor, writeMigrationFile, type CliRun } from '../concurrency/support.js';
import { freePort, sample, scrape } from './support.js';

const TOKEN = 'serve-test-token-0123456789';

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

describe('tandem serve: token, loopback, JSON API, metrics, live stream', () => {
  let db: TestDatabase;
  let serve: CliRun;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };
  before(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, label text)`);
    await db.query(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    serve = spawnCli(['serve', '--port', String(port), '--token', TOKEN], db.url);
    await waitFor('tandem serve to listen', async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok, 30_000);
  });
  after(async () => {
    killSpawned();
    await serve.done;
    await db.drop();
  });

  test('every route but /healthz needs the token, as a Bearer header or ?token=', async () => {
    for (const route of ['/', '/api/state', '/metrics', '/api/events', '/api/migrations/1/audit']) {
      const res = await fetch(`${base}${route}`);
      assert.equal(res.status, 401, route);
      assert.equal((await fetch(`${base}${route}?token=wrong-token-wrong-token`)).status, 401, `${route} with a wrong token`);
    }
    assert.equal((await fetch(`${base}/api/state`, { headers: auth })).status, 200);
    assert.equal((await fetch(`${base}/api/state?token=${TOKEN}`)).status, 200);
    const page = await fetch(`${base}/?token=${TOKEN}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html lang="en">[\s\S]*<h1>Tandem<\/h1>/);
  });

  test('it listens on 127.0.0.1 only by default', async (t) => {
    const address = externalAddress();
    if (!address) return t.skip('this machine has no non-loopback IPv4 address to try');
    const port = new URL(base).port;
    await assert.rejects(fetch(`http://${address}:${port}/healthz`, { signal: AbortSignal.timeout(2000) }), 'nothing answers on another interface');
  });

  test('the JSON API, the metrics and the live stream follow a real migration', async () => {
    const empty = (await (await fetch(`${base}/api/state`, { headers: auth })).json()) as { initialized: boolean; migrations: unknown[] };
    assert.equal(empty.initialized, false);
    // Open the live stream first, then start a migration: the stream must carry the change.
    const ac = new AbortController();
    const stream = await fetch(`${base}/api/events`, { headers: auth, signal: ac.signal });
    assert.equal(stream.headers.get('content-type')?.split(';')[0], 'text/event-stream');
    const reader = stream.body!.getReader();
    let buffered = '';
    const nextState = async (accept: (s: { migrations: { name: string; phase: string }[] }) => boolean) => {
      for (;;) {
        const events = buffered.split('\n\n');
        buffered = events.pop() ?? '';
        for (const e of events) {
          const data = /^event: state\ndata: (.*)$/m.exec(e)?.[1];
          if (data && accept(JSON.parse(data) as { migrations: { name: string; phase: string }[] })) return Date.now();
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffered += Buffer.from(value).toString();
      }
    };
    await nextState((s) => s.migrations.length === 0);
    const file = writeMigrationFile('s1_label', { operations: [{ alter_column: { table: 'items', column: 'label', type: 'varchar(50)', up: 'label', down: 'label' } }] });
    const started = await spawnCli(['start', file], db.url).done;
    assert.equal(started.code, 0, started.stderr);
    const recorded = (await db.query<{ t: Date }>(`SELECT updated_at AS t FROM tandem.migrations WHERE name = 's1_label'`)).rows[0]!.t.getTime();
    const seenAt = await nextState((s) => s.migrations.some((m) => m.name === 's1_label' && m.phase === 'active'));
    assert.ok(seenAt - recorded < 2_000, `the stream told the phase change ${seenAt - recorded} ms after the server recorded it`);
    ac.abort();

    const state = (await (await fetch(`${base}/api/state`, { headers: auth })).json()) as {
      migrations: { id: string; name: string; phase: string; backfill: { table: string; rowsDone: number; done: boolean }[]; steps: { start: { done: number; total: number } } }[];
    };
    const m = state.migrations[0]!;
    assert.equal(m.name, 's1_label');
    assert.deepEqual(
      m.backfill.map((b) => [b.table, b.rowsDone, b.done]),
      [['items', 500, true]],
    );
    assert.equal(m.steps.start.done, m.steps.start.total);
    const audit = (await (await fetch(`${base}/api/migrations/${m.id}/audit`, { headers: auth })).json()) as { entries: { step: string; statements: string; outcome: string }[] };
    assert.ok(
      audit.entries.some((e) => e.outcome === 'ok' && /ALTER TABLE/.test(e.statements)),
      'the audit log carries each step’s SQL',
    );
    assert.equal((await fetch(`${base}/api/migrations/x/audit`, { headers: auth })).status, 400);

    const metrics = await scrape(`${base}/metrics`, auth);
    assert.equal(sample(metrics, 'tandem_migration_phase', { migration: 's1_label', phase: 'active' }), 1);
    assert.equal(sample(metrics, 'tandem_backfill_rows_total', { table: 'items' }), 500);
    assert.equal(sample(metrics, 'tandem_state_initialized'), 1);
  });

  test('read-only by default; with --allow-actions, confirmed actions change the rollout', async () => {
    const post = (root: string, action: string, body: unknown) =>
      fetch(`${root}/api/actions/${action}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post(base, 'rollout-set', { schema: 'public', percent: 25, confirm: true })).status, 403);
    const port = await freePort();
    const writable = `http://127.0.0.1:${port}`;
    const run = spawnCli(['serve', '--port', String(port), '--token', TOKEN, '--allow-actions'], db.url);
    await waitFor('the second server', async () => (await fetch(`${writable}/healthz`).catch(() => undefined))?.ok, 30_000);
    assert.equal((await post(writable, 'rollout-set', { schema: 'public', percent: 25 })).status, 400, 'no confirmation, no change');
    assert.equal((await post(writable, 'rollout-set', { schema: 'public', percent: 250, confirm: true })).status, 400);
    const active = (await db.query<{ id: string }>(`SELECT id::text FROM tandem.migrations WHERE name = 's1_label'`)).rows[0]!.id;
    const pause = await post(writable, 'backfill-pause', { migrationId: active, confirm: true });
    assert.equal(pause.status, 400, 'no backfill is running for an active migration');
    const set = await post(writable, 'rollout-set', { schema: 'public', percent: 25, confirm: true });
    assert.equal(set.status, 200, await set.clone().text());
    assert.equal(Number((await db.query<{ percent: string }>(`SELECT percent::text FROM tandem.rollouts WHERE migration_id = $1`, [active])).rows[0]!.percent), 25);
    const metrics = await scrape(`${writable}/metrics`, auth);
    assert.equal(sample(metrics, 'tandem_rollout_percent', { migration: 's1_label' }), 25);
    run.child.kill('SIGTERM');
    const exited = await run.done;
    assert.equal(exited.signal ?? exited.code, exited.signal ? 'SIGTERM' : 0);
  });
});
