/**
 * Per-version health counted by each client: statements, errors by SQLSTATE, latency (sum, max,
 * histogram). Recording is in memory and bounded (at most `maxVersions` versions and
 * `maxSqlstates` codes each; beyond that, counts go to `dropped` / the `other` code). Every
 * `flushIntervalMs` the counts since the last flush go to tandem.version_health in ONE INSERT; a
 * failed flush keeps them for the next one. Nothing here ever throws into the application.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { LATENCY_BUCKETS, latencyBucket } from './latency-histogram.js';
import type { SqlRunner } from './sql-runner.js';

/** What one version's counts look like, in memory and as flushed. */
export interface VersionHealth {
  version: string;
  statements: number;
  errors: number;
  errorsBySqlstate: Record<string, number>;
  latencySumMs: number;
  latencyMaxMs: number;
  latencyBuckets: number[];
}

export interface HealthRecorderOptions {
  run: SqlRunner;
  schema: string;
  /** Names this instance in the table (default host:pid:random). */
  instanceId?: string;
  /** Default 5000 ms; 0 disables the timer (flush() by hand). */
  flushIntervalMs?: number;
  /**
   * A flush that has not finished after this long (default 5000 ms: an unreachable database, an
   * exhausted pool) is given up: its counts are dropped rather than kept, since its INSERT may
   * still land later and would then count twice.
   */
  flushTimeoutMs?: number;
  maxVersions?: number;
  maxSqlstates?: number;
  onError?: (err: unknown) => void;
}

/** The code counted for a failure without a SQLSTATE (a lost connection, an exception in application code). */
export const NON_SQL_ERROR = 'other';

export class HealthRecorder {
  readonly instanceId: string;
  private counts = new Map<string, VersionHealth>();
  private periodStart = new Date();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly maxVersions: number;
  private readonly maxSqlstates: number;
  /** Outcomes not written: beyond `maxVersions` versions, or in a flush given up after flushTimeoutMs. */
  dropped = 0;
  flushes = 0;
  failedFlushes = 0;

  constructor(private readonly opts: HealthRecorderOptions) {
    this.instanceId = opts.instanceId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.maxVersions = opts.maxVersions ?? 16;
    this.maxSqlstates = opts.maxSqlstates ?? 32;
    const every = opts.flushIntervalMs ?? 5_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.flush(), every);
      this.timer.unref();
    }
  }

  /** Count one statement (or routed transaction) on `version`: its latency and, if it failed, its SQLSTATE. */
  record(version: string, ms: number, sqlstate?: string | null): void {
    let v = this.counts.get(version);
    if (!v) {
      if (this.counts.size >= this.maxVersions) {
        this.dropped++;
        return;
      }
      v = emptyHealth(version);
      this.counts.set(version, v);
    }
    const latency = Number.isFinite(ms) && ms > 0 ? ms : 0;
    v.statements++;
    v.latencySumMs += latency;
    if (latency > v.latencyMaxMs) v.latencyMaxMs = latency;
    v.latencyBuckets[latencyBucket(latency)]!++;
    if (sqlstate !== undefined && sqlstate !== null) {
      v.errors++;
      const known = sqlstate in v.errorsBySqlstate || Object.keys(v.errorsBySqlstate).length < this.maxSqlstates;
      const code = known ? sqlstate : NON_SQL_ERROR;
      v.errorsBySqlstate[code] = (v.errorsBySqlstate[code] ?? 0) + 1;
    }
  }

  /** The counts not flushed yet. */
  pending(): VersionHealth[] {
    return [...this.counts.values()].map((v) => ({ ...v, errorsBySqlstate: { ...v.errorsBySqlstate }, latencyBuckets: [...v.latencyBuckets] }));
  }

  /** Write what was counted since the last flush; never throws (a failure keeps the counts for next time). */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (this.counts.size === 0) return;
    const taken = this.counts;
    const periodStart = this.periodStart;
    const periodEnd = new Date();
    this.counts = new Map();
    this.periodStart = periodEnd;
    const insert = this.opts.run(FLUSH_SQL, [
      this.opts.schema,
      this.instanceId,
      periodStart.toISOString(),
      periodEnd.toISOString(),
      JSON.stringify([...taken.values()].map(toRecord)),
    ]);
    try {
      await withDeadline(insert, this.opts.flushTimeoutMs ?? 5_000);
      this.flushes++;
    } catch (err) {
      this.failedFlushes++;
      if (err instanceof FlushTimeout) {
        insert.catch(() => undefined);
        for (const v of taken.values()) this.dropped += v.statements;
        this.report(err);
        return;
      }
      this.periodStart = periodStart;
      for (const v of taken.values()) this.mergeBack(v);
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.opts.onError?.(err);
    } catch {
      // an onError that throws must not reach the application either
    }
  }

  private mergeBack(v: VersionHealth): void {
    const into = this.counts.get(v.version);
    if (!into) {
      this.counts.set(v.version, v);
      return;
    }
    into.statements += v.statements;
    into.errors += v.errors;
    into.latencySumMs += v.latencySumMs;
    into.latencyMaxMs = Math.max(into.latencyMaxMs, v.latencyMaxMs);
    for (let i = 0; i < LATENCY_BUCKETS; i++) into.latencyBuckets[i]! += v.latencyBuckets[i]!;
    for (const [code, n] of Object.entries(v.errorsBySqlstate)) into.errorsBySqlstate[code] = (into.errorsBySqlstate[code] ?? 0) + n;
  }

  /** Stop the timer and flush what is left (bounded by flushTimeoutMs). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }
}

class FlushTimeout extends Error {}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FlushTimeout(`health flush: no answer within ${ms} ms; its counts are dropped`)), ms);
    timer.unref();
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function emptyHealth(version: string): VersionHealth {
  return { version, statements: 0, errors: 0, errorsBySqlstate: {}, latencySumMs: 0, latencyMaxMs: 0, latencyBuckets: new Array<number>(LATENCY_BUCKETS).fill(0) };
}

function toRecord(v: VersionHealth) {
  return {
    version: v.version,
    statements: v.statements,
    errors: v.errors,
    errors_by_sqlstate: v.errorsBySqlstate,
    latency_sum_ms: v.latencySumMs,
    latency_max_ms: v.latencyMaxMs,
    latency_buckets: v.latencyBuckets,
  };
}

/** One statement for every version counted: the rows come as one JSON array parameter. */
const FLUSH_SQL = `INSERT INTO tandem.version_health
    (schema_name, version, instance_id, period_start, period_end, statements, errors, errors_by_sqlstate, latency_sum_ms, latency_max_ms, latency_buckets)
  SELECT $1, r.version, $2, $3::timestamptz, $4::timestamptz, r.statements, r.errors, r.errors_by_sqlstate, r.latency_sum_ms, r.latency_max_ms, r.latency_buckets
    FROM jsonb_to_recordset($5::jsonb) AS r(version text, statements bigint, errors bigint, errors_by_sqlstate jsonb,
         latency_sum_ms double precision, latency_max_ms double precision, latency_buckets integer[])`;
