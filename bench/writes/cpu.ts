/**
 * Server CPU per transaction: the workload's statement run `count` times in one backend, each in
 * its own transaction (a DO block that commits after every statement), timed by the backend's own
 * CPU clock (/proc/<pid>/stat). Unlike throughput, CPU time barely moves with what the other
 * tenants of a shared machine do, so small parts (the sync trigger's call, its WHEN clause) show.
 * It leaves out the client and the protocol: a ratio of these figures is a bound on the
 * throughput ratio, not the ratio itself. Only for a server on this machine (else undefined).
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { literal } from '../../src/sql/ident.js';
import type { Workload } from './driver.js';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function backendCpuMicros(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime: fields 14 and 15 of stat(5), the 12th and 13th after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** µs of server CPU per transaction, or undefined when the server's processes cannot be read from here. */
export async function serverCpuPerTransaction(client: pg.Client, w: Workload, count: number): Promise<number | undefined> {
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  if (backendCpuMicros(pid) === undefined) return undefined;
  await client.query(`SELECT set_config('search_path', $1, false), set_config('synchronous_commit', $2, false)`, [w.searchPath, w.synchronousCommit]);
  const statement = w.sql.replaceAll(':id', '_k').replaceAll(':v', '_v');
  const loop = (n: number) => `DO $tandem_bench$
DECLARE _k bigint; _v integer;
BEGIN
  FOR _i IN 1..${n} LOOP
    _k := 1 + floor(random() * ${w.keys})::bigint;
    _v := 1 + floor(random() * 1000)::integer;
    ${statement};
    COMMIT;
  END LOOP;
END $tandem_bench$`;
  await client.query(loop(Math.min(200, count))); // warm the plans and the caches
  const before = backendCpuMicros(pid)!;
  await client.query(loop(count));
  const after = backendCpuMicros(pid);
  await client.query(`SELECT set_config('search_path', ${literal('public')}, false)`);
  return after === undefined ? undefined : (after - before) / count;
}
