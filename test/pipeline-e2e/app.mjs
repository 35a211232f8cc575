#!/usr/bin/env node
// A tiny application instance for the pipeline test (test/pipeline-e2e/): it connects with the
// search_path it is given (what `tandem latest` printed at deploy), inserts rows into `orders`
// through its version's view in a loop, and prints each acknowledged write as one JSON line on
// stdout ({"id":…,"row":{…}}) — the parent records them in the traffic generator's Ledger.
// GET /health (127.0.0.1 only, Bearer token required) answers 200 when the instance has written
// and read back through its version, 503 otherwise (or always, with APP_FAIL_HEALTH=1: a bad
// release). SIGTERM drains: the write in flight finishes and is printed, then the process exits.
//
// env: DATABASE_URL, APP_SEARCH_PATH, APP_COLUMNS (comma-separated, beyond id), APP_ID_BASE,
//      APP_TOKEN, APP_FAIL_HEALTH
import http from 'node:http';
import pg from 'pg';

const env = (name, fallback) => process.env[name] ?? fallback;
const searchPath = env('APP_SEARCH_PATH');
const columns = env('APP_COLUMNS', 'item,qty').split(',');
const token = env('APP_TOKEN');
let nextId = Number(env('APP_ID_BASE', '1000000'));
let stopping = false;
let written = 0;
let readBack = false;

const client = new pg.Client({ connectionString: env('DATABASE_URL'), application_name: `pipeline-app ${searchPath}` });
client.on('error', () => undefined);
await client.connect();
await client.query(`SELECT set_config('search_path', $1, false)`, [`"${searchPath.replace(/"/g, '""')}"`]);

const value = (column, id) => (column === 'qty' || column === 'priority' ? id % 97 : `${column}-${id}`);

async function writeLoop() {
  while (!stopping) {
    const id = nextId++;
    const row = Object.fromEntries(columns.map((c) => [c, value(c, id)]));
    const names = ['id', ...columns].map((c) => `"${c}"`).join(', ');
    const params = ['$1', ...columns.map((_, i) => `$${i + 2}`)].join(', ');
    try {
      const r = await client.query(`INSERT INTO orders (${names}) VALUES (${params}) RETURNING id`, [id, ...columns.map((c) => row[c])]);
      if (r.rowCount === 1) {
        written++;
        process.stdout.write(`${JSON.stringify({ id, row })}\n`);
      }
      if (!readBack && written >= 3) {
        const back = await client.query(`SELECT ${names} FROM orders WHERE id = $1`, [id]);
        readBack = back.rowCount === 1;
      }
    } catch (err) {
      process.stderr.write(`write ${id} failed: ${err.message}\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const server = http.createServer((req, res) => {
  if (req.headers.authorization !== `Bearer ${token}`) {
    res.writeHead(401).end('token required\n');
    return;
  }
  const healthy = env('APP_FAIL_HEALTH', '0') !== '1' && readBack;
  res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ healthy, written, searchPath })}\n`);
});
server.listen(0, '127.0.0.1', () => process.stderr.write(`listening ${server.address().port}\n`));

const loop = writeLoop();
process.on('SIGTERM', async () => {
  stopping = true;
  await loop;
  server.close();
  await client.end().catch(() => undefined);
  process.stderr.write(`drained after ${written} writes\n`);
  process.exit(0);
});
