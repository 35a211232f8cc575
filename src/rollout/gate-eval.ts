/**
 * Judging gates from facts already gathered (gate-facts.ts gathers them). Pure: the same facts
 * give the same verdict, and unit tests need no database, server or clock.
 */
import type { VersionHealthSummary } from '../client/health-report.js';
import type { GateSpec, HealthMetric, Threshold } from './gate-spec.js';

export type LatencyMetric = Exclude<HealthMetric, 'error-rate'>;

/** What the clients of one version reported over the gate window (tandem.version_health, summed: src/client/health-report.ts). */
export type VersionHealth = Pick<VersionHealthSummary, 'statements' | 'errors' | 'errorsBySqlstate' | 'p50Ms' | 'p99Ms' | 'maxMs' | 'meanMs'>;

export interface HealthFacts {
  new: VersionHealth;
  old: VersionHealth;
}

export interface GateVerdict {
  gate: string;
  kind: GateSpec['kind'];
  passed: boolean;
  /** False when there was too little to judge on (then it passes, and says so). */
  judged: boolean;
  observed?: number;
  limit?: number;
  detail: string;
}

export const emptyHealth = (): VersionHealth => ({ statements: 0, errors: 0, errorsBySqlstate: {}, p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 });

const LATENCY_FIELD: Record<LatencyMetric, 'p50Ms' | 'p99Ms' | 'maxMs' | 'meanMs'> = { p50: 'p50Ms', p99: 'p99Ms', max: 'maxMs', mean: 'meanMs' };

/** The most frequent SQLSTATEs of the errors, most frequent first. */
export function topErrors(h: VersionHealth, n = 3): { sqlstate: string; count: number }[] {
  return Object.entries(h.errorsBySqlstate)
    .map(([sqlstate, count]) => ({ sqlstate, count: Number(count) }))
    .sort((a, b) => b.count - a.count || a.sqlstate.localeCompare(b.sqlstate))
    .slice(0, n);
}

export function errorRate(h: VersionHealth): number {
  return h.statements > 0 ? h.errors / h.statements : 0;
}

/** The metric over the window; undefined when the version ran no statement in it. */
function metricOf(h: VersionHealth, metric: HealthMetric): number | undefined {
  if (h.statements <= 0) return undefined;
  return metric === 'error-rate' ? errorRate(h) : h[LATENCY_FIELD[metric]];
}

function limitOf(t: Threshold, old: number | undefined): number | undefined {
  if (t.relativeTo === 'absolute') return t.value;
  return old === undefined ? undefined : old * t.times + t.plus;
}

const show = (metric: HealthMetric, v: number) => (metric === 'error-rate' ? `${Math.round(v * 10000) / 100} %` : `${Math.round(v * 10) / 10} ms`);

/**
 * A health gate over the new version's figures (and the old version's, for a relative limit).
 * With fewer than `minStatements` statements of the new version in the window (or, for a
 * relative limit, of the old one) there is nothing to judge on: the gate passes, unjudged.
 */
export function judgeHealthGate(spec: Extract<GateSpec, { kind: 'health' }>, facts: HealthFacts, minStatements: number): GateVerdict {
  const base = { gate: spec.text, kind: spec.kind } as const;
  if (facts.new.statements < Math.max(1, minStatements)) {
    return {
      ...base,
      passed: true,
      judged: false,
      detail: `${facts.new.statements} statements of the new version in the window: too few to judge (--min-statements ${minStatements})`,
    };
  }
  const relative = spec.threshold.relativeTo === 'old';
  if (relative && facts.old.statements < Math.max(1, minStatements)) {
    return { ...base, passed: true, judged: false, detail: `${facts.old.statements} statements of the old version in the window: nothing to compare with` };
  }
  const observed = metricOf(facts.new, spec.metric);
  const limit = limitOf(spec.threshold, relative ? metricOf(facts.old, spec.metric) : undefined);
  if (observed === undefined || limit === undefined) {
    return { ...base, passed: true, judged: false, detail: `no ${spec.metric} reported in the window` };
  }
  const passed = spec.inclusive ? observed <= limit : observed < limit;
  const top = topErrors(facts.new);
  const errors = spec.metric === 'error-rate' && top.length ? `; errors: ${top.map((e) => `${e.sqlstate} ×${e.count}`).join(', ')}` : '';
  const detail =
    `new version ${spec.metric} ${show(spec.metric, observed)} over ${facts.new.statements} statements; ` +
    `limit ${show(spec.metric, limit)}${relative ? ` (old version: ${show(spec.metric, metricOf(facts.old, spec.metric)!)})` : ''}${errors}`;
  return { ...base, passed, judged: true, observed, limit, detail };
}

/** An sql: gate passes when its query returns exactly one row of one column, and that value is true. */
export function judgeSqlResult(spec: GateSpec, rows: Record<string, unknown>[]): GateVerdict {
  const base = { gate: spec.text, kind: spec.kind, judged: true } as const;
  if (rows.length !== 1) return { ...base, passed: false, detail: `the query returned ${rows.length} rows; it must return one boolean` };
  const values = Object.values(rows[0]!);
  if (values.length !== 1) return { ...base, passed: false, detail: `the query returned ${values.length} columns; it must return one boolean` };
  const v = values[0];
  if (typeof v !== 'boolean') return { ...base, passed: false, detail: `the query returned ${v === null ? 'NULL' : `a ${typeof v}`}, not a boolean` };
  return { ...base, passed: v, detail: `the query returned ${v}` };
}

/** An http: gate passes on a 2xx status. */
export function judgeHttpStatus(spec: GateSpec, status: number, statusText: string): GateVerdict {
  const passed = status >= 200 && status < 300;
  return { gate: spec.text, kind: spec.kind, judged: true, passed, observed: status, detail: `HTTP ${status}${statusText ? ` ${statusText}` : ''}` };
}

/**
 * A prom: gate passes when the Prometheus HTTP API answers `status: success` with at least one
 * sample (a vector or a scalar) and every sample's value is a number other than 0 (NaN fails).
 * So both styles work: a comparison with `bool` (`… < bool 0.01`, 1 when true, 0 when false)
 * and a filtering comparison (`… < 0.01`, which returns no sample when false). No data fails:
 * a metric that is missing is not a healthy one.
 */
export function judgePromResponse(spec: GateSpec, body: unknown): GateVerdict {
  const base = { gate: spec.text, kind: spec.kind, judged: true } as const;
  const doc = body as { status?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } } | null;
  if (!doc || typeof doc !== 'object') return { ...base, passed: false, detail: 'the answer is not a Prometheus API document' };
  if (doc.status !== 'success') return { ...base, passed: false, detail: `Prometheus: ${typeof doc.error === 'string' ? doc.error : `status ${String(doc.status)}`}` };
  const values = promValues(doc.data?.resultType, doc.data?.result);
  if (values === undefined) return { ...base, passed: false, detail: `result type ${String(doc.data?.resultType)} is not a vector or a scalar` };
  if (values.length === 0) return { ...base, passed: false, detail: 'the query returned no sample' };
  const falsy = values.filter((v) => !(Number.isFinite(v) && v !== 0));
  const shown = values.slice(0, 5).join(', ') + (values.length > 5 ? ', …' : '');
  return {
    ...base,
    passed: falsy.length === 0,
    detail: `${values.length} sample${values.length === 1 ? '' : 's'}: ${shown}${falsy.length ? ` (${falsy.length} zero or NaN)` : ''}`,
  };
}

function promValues(type: unknown, result: unknown): number[] | undefined {
  const num = (pair: unknown) => Number(Array.isArray(pair) ? pair[1] : NaN);
  if (type === 'scalar') return [num(result)];
  if (type === 'vector' && Array.isArray(result)) return result.map((s: { value?: unknown }) => num(s?.value));
  return undefined;
}

/** The first failing verdict, in the order the gates were given, or undefined when all pass. */
export function firstFailure(verdicts: GateVerdict[]): GateVerdict | undefined {
  return verdicts.find((v) => !v.passed);
}
