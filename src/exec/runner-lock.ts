import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunnerBusyError } from '../errors.js';

/**
 * A runner that has just exited may still hold the lock for a moment: its backend releases it
 * while exiting, after the client has already seen the connection close. A second runner retries
 * for this long before it says the schema is busy (a real concurrent runner holds it far longer).
 */
const EXITING_HOLDER_GRACE_MS = 1_500;

/** Advisory lock class for "one tandem runner per target schema". */
const LOCK_CLASS = 0x7a4d;

/**
 * Hold the per-schema runner lock for the duration of `fn`. It is a session lock: if the process
 * dies, the server drops it with the connection.
 */
export async function withRunnerLock<T>(client: pg.Client, schema: string, wait: boolean, fn: () => Promise<T>): Promise<T> {
  const key = `tandem:${schema}`;
  if (wait) {
    await pollForLock(client, key);
  } else {
    if (!(await tryLockWithGrace(client, key))) throw new RunnerBusyError(schema, await describeHolder(client, key));
  }
  try {
    return await fn();
  } finally {
    await client.query(`SELECT pg_advisory_unlock($1, hashtext($2))`, [LOCK_CLASS, key]).catch(() => undefined);
  }
}

/**
 * --wait polls with pg_try_advisory_lock instead of blocking in pg_advisory_lock: a statement that
 * waits for the lock keeps its snapshot open all the while, and CREATE / DROP INDEX CONCURRENTLY of
 * the runner holding the lock waits for every older snapshot to end — the holder would time out
 * waiting for its own waiter. Between tries this session holds no snapshot.
 */
async function pollForLock(client: pg.Client, key: string): Promise<void> {
  while (!(await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok`, [LOCK_CLASS, key])).rows[0]!.ok) await sleep(100);
}

async function tryLockWithGrace(client: pg.Client, key: string): Promise<boolean> {
  const deadline = Date.now() + EXITING_HOLDER_GRACE_MS;
  for (;;) {
    const r = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok`, [LOCK_CLASS, key]);
    if (r.rows[0]!.ok) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

async function describeHolder(client: pg.Client, key: string): Promise<string> {
  const r = await client.query<{ pid: number; usename: string; application_name: string; client_addr: string | null; backend_start: Date }>(
    `SELECT a.pid, a.usename, a.application_name, host(a.client_addr) AS client_addr, a.backend_start
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) -- pg_locks spans the cluster
        AND l.objid = (hashtext($2)::bigint & 4294967295)::oid AND l.objsubid = 2`,
    [LOCK_CLASS, key],
  );
  const h = r.rows[0];
  if (!h) return 'holder not visible to this role';
  return `pid ${h.pid}, user ${h.usename}, application "${h.application_name}"${h.client_addr ? ` from ${h.client_addr}` : ''}, since ${h.backend_start.toISOString()}`;
}
