/**
 * `npm run bench:observe [-- --rows 1000000 --database-url URL]`: a backfill of N rows under
 * observation. Scrapes the runner's --metrics-port every 500 ms, parses each scrape with a
 * Prometheus text-format parser, and checks the rows counter against tandem.backfill_checkpoints
 * (read just before and just after the scrape); also times `tandem serve`'s /api/state and
 * /metrics. Prints the scrape latency (p50/p99 via the shared percentile) and the checks' result.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import pg from 'pg';
import { databaseUrlFor } from '../src/db/connection.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { percentile } from '../src/util/percentile.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const rows = Number(arg('--rows') ?? 1_000_000);
const root = path.resolve(import.meta.dirname, '..');

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

function tandem(args: string[], url: string) {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'tandem.js'), ...args], { env: { ...process.env, TANDEM_DATABASE_URL: url }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, done };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

async function main(): Promise<void> {
  const given = arg('--database-url') ?? process.env['TANDEM_DATABASE_URL'];
  const server = given ? undefined : await startEmbeddedPostgres();
  const admin = new pg.Client({ connectionString: given ?? server!.url });
  await admin.connect();
  const dbName = `tandem_bench_observe_${process.pid}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = databaseUrlFor(given ?? server!.url, dbName);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    console.log(`bench:observe — ${rows.toLocaleString('en-US')} rows, ${os.cpus().length} cores`);
    await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL, amount int NOT NULL)`);
    await db.query(`INSERT INTO orders SELECT g, (ARRAY['new','paid','shipped'])[1 + g % 3], g % 1000 FROM generate_series(1, $1::int) g`, [rows]);
    await db.query('ANALYZE orders');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-observe-'));
    const file = path.join(dir, 'b1_status.json');
    writeFileSync(file, JSON.stringify({ operations: [{ alter_column: { table: 'orders', column: 'status', type: 'varchar(20)', up: 'upper(status)', down: 'lower(status)' } }] }));
    const port = await freePort();
    const run = tandem(['start', file, '--metrics-port', String(port)], url);
    const servePort = await freePort();
    const token = 'bench-observe-token-000000';
    const serve = tandem(['serve', '--port', String(servePort), '--token', token], url);
    let exited = false;
    void run.done.then(() => (exited = true));
    const scrapeMs: number[] = [];
    const apiMs: number[] = [];
    let scrapes = 0;
    let inBounds = 0;
    let parsedFailures = 0;
    const cp = async () =>
      Number((await db.query<{ n: string | null }>(`SELECT sum(rows_done)::text AS n FROM tandem.backfill_checkpoints`).catch(() => ({ rows: [{ n: null }] }))).rows[0]?.n ?? 0);
    while (!exited) {
      const before = await cp();
      const res = await timed(() =>
        fetch(`http://127.0.0.1:${port}/metrics`)
          .then((r) => r.text())
          .catch(() => undefined),
      );
      const after = await cp();
      if (res[0] !== undefined && before > 0) {
        scrapes++;
        scrapeMs.push(res[1]);
        try {
          const fam = parsePrometheusTextFormat(res[0]).find((f) => f.name === 'tandem_backfill_rows_total');
          const v = Number(fam?.metrics[0]?.value);
          if (v >= before && v <= after) inBounds++;
        } catch {
          parsedFailures++;
        }
        const api = await timed(() => fetch(`http://127.0.0.1:${servePort}/api/state`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined));
        if (api[0]?.ok) apiMs.push(api[1]);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const done = await run.done;
    serve.child.kill('SIGTERM');
    await serve.done;
    const p = (xs: number[], q: number) => (xs.length ? percentile(xs, q).toFixed(1) : 'n/a');
    console.log(`start exit ${done.code}; scrapes during the backfill: ${scrapes}, parsed: ${scrapes - parsedFailures}, rows counter within checkpoints: ${inBounds}/${scrapes}`);
    console.log(`runner /metrics latency: p50 ${p(scrapeMs, 50)} ms, p99 ${p(scrapeMs, 99)} ms; serve /api/state: p50 ${p(apiMs, 50)} ms, p99 ${p(apiMs, 99)} ms`);
    if (done.code !== 0 || parsedFailures > 0 || inBounds !== scrapes || scrapes === 0) process.exitCode = 1;
  } finally {
    await db.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await server?.stop();
  }
}

await main();
