/**
 * What tandem.version_health says about each version over a recent window: statements, error
 * rate, errors by SQLSTATE, p50/p99 latency (from the summed histograms), instances reporting.
 * `tandem rollout status` prints it; health gates (`rollout run`) decide on it. The read and the
 * (pure) summary are apart.
 */
import { addHistograms, histogramPercentile } from './latency-histogram.js';
import type { SqlRunner } from './sql-runner.js';

export interface HealthRow {
  version: string;
  instance_id: string;
  statements: number;
  errors: number;
  errors_by_sqlstate: Record<string, number>;
  latency_sum_ms: number;
  latency_max_ms: number;
  latency_buckets: number[];
}

export interface VersionHealthSummary {
  version: string;
  instances: number;
  statements: number;
  errors: number;
  /** errors / statements, 0 … 1 (0 with no statements). */
  errorRate: number;
  errorsBySqlstate: Record<string, number>;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The rows flushed in the last `windowSeconds` (by the server's clock, so clients' clocks do not matter). */
export async function readHealthRows(run: SqlRunner, schema: string, windowSeconds: number): Promise<HealthRow[]> {
  const rows = await run(
    `SELECT version, instance_id, statements::float8 AS statements, errors::float8 AS errors, errors_by_sqlstate,
            latency_sum_ms, latency_max_ms, latency_buckets
       FROM tandem.version_health
      WHERE schema_name = $1 AND recorded_at >= now() - make_interval(secs => $2)`,
    [schema, windowSeconds],
  );
  return rows as unknown as HealthRow[];
}

/** One summary per version, in the order of `versions` first, then any other version by name. */
export function summarizeHealth(rows: HealthRow[], versions: string[] = []): VersionHealthSummary[] {
  const byVersion = new Map<string, HealthRow[]>();
  for (const v of versions) byVersion.set(v, []);
  for (const r of rows) byVersion.set(r.version, [...(byVersion.get(r.version) ?? []), r]);
  const order = [...versions, ...[...byVersion.keys()].filter((v) => !versions.includes(v)).sort()];
  return [...new Set(order)].map((v) => summarizeVersion(v, byVersion.get(v) ?? []));
}

function summarizeVersion(version: string, rows: HealthRow[]): VersionHealthSummary {
  let statements = 0;
  let errors = 0;
  let sumMs = 0;
  let maxMs = 0;
  const bySqlstate: Record<string, number> = {};
  const buckets: number[] = [];
  const instances = new Set<string>();
  for (const r of rows) {
    instances.add(r.instance_id);
    statements += Number(r.statements);
    errors += Number(r.errors);
    sumMs += Number(r.latency_sum_ms);
    maxMs = Math.max(maxMs, Number(r.latency_max_ms));
    for (const [code, n] of Object.entries(r.errors_by_sqlstate ?? {})) bySqlstate[code] = (bySqlstate[code] ?? 0) + Number(n);
    addHistograms(buckets, r.latency_buckets ?? []);
  }
  return {
    version,
    instances: instances.size,
    statements,
    errors,
    errorRate: statements > 0 ? errors / statements : 0,
    errorsBySqlstate: bySqlstate,
    meanMs: statements > 0 ? sumMs / statements : 0,
    p50Ms: histogramPercentile(buckets, 50, maxMs),
    p99Ms: histogramPercentile(buckets, 99, maxMs),
    maxMs,
  };
}
