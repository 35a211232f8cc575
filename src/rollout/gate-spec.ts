/**
 * The gates of `tandem rollout run --gate …`, parsed from their command-line text. Pure.
 *
 *   error-rate<0.01            the new version's failed share of statements stays below 1 %
 *   error-rate<old+0.005       … below the old version's rate plus half a point
 *   p99<200ms                  the new version's p99 latency stays below 200 ms (also p50, max, mean)
 *   p99<old*1.5                … below 1.5 × the old version's p99
 *   sql:SELECT count(*) = 0 FROM orders WHERE total < 0     one boolean; true passes
 *   http:https://app.internal/healthz                        2xx passes
 *   prom:http://prometheus:9090|sum(rate(http_errors_total[1m])) < bool 5   non-empty, every sample non-zero
 */
import { InvalidInputError } from '../errors.js';
import { parseDurationMs } from './duration.js';

export const HEALTH_METRICS = ['error-rate', 'p50', 'p99', 'max', 'mean'] as const;
export type HealthMetric = (typeof HEALTH_METRICS)[number];

/** A limit: a number (a rate, or milliseconds), or the old version's value plus or times a number. */
export type Threshold = { relativeTo: 'absolute'; value: number } | { relativeTo: 'old'; plus: number; times: number };

export type GateSpec =
  | { kind: 'health'; text: string; metric: HealthMetric; inclusive: boolean; threshold: Threshold }
  | { kind: 'sql'; text: string; query: string }
  | { kind: 'http'; text: string; url: string }
  | { kind: 'prom'; text: string; baseUrl: string; query: string };

const FIELD = '--gate';

function bad(text: string, problem: string, hint: string): never {
  throw new InvalidInputError(`gate "${text}": ${problem}`, { field: FIELD }, hint, { code: 'usage' });
}

export function parseGate(text: string): GateSpec {
  const trimmed = text.trim();
  const prefix = /^(sql|http|prom):/i.exec(trimmed)?.[1]?.toLowerCase();
  if (prefix === 'sql') return sqlGate(trimmed);
  if (prefix === 'http') return httpGate(trimmed);
  if (prefix === 'prom') return promGate(trimmed);
  return healthGate(trimmed);
}

function sqlGate(text: string): GateSpec {
  const query = text.slice('sql:'.length).trim();
  if (!query) bad(text, 'the query is empty', 'write sql:<a query returning one boolean>, e.g. "sql:SELECT count(*) = 0 FROM orders WHERE total < 0"');
  return { kind: 'sql', text, query };
}

function httpUrl(text: string, raw: string, example: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad(text, `"${raw}" is not a URL`, `write ${example}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') bad(text, `"${url.protocol}" is not http: or https:`, `write ${example}`);
  return url.toString();
}

function httpGate(text: string): GateSpec {
  return { kind: 'http', text, url: httpUrl(text, text.slice('http:'.length).trim(), 'http:<url>, e.g. http:http://127.0.0.1:8080/healthz') };
}

function promGate(text: string): GateSpec {
  const body = text.slice('prom:'.length);
  const bar = body.indexOf('|');
  const example = 'prom:<Prometheus base URL>|<PromQL>, e.g. "prom:http://127.0.0.1:9090|sum(rate(errors_total[1m])) < bool 1"';
  if (bar < 0) bad(text, 'no "|" between the Prometheus URL and the query', example);
  const query = body.slice(bar + 1).trim();
  if (!query) bad(text, 'the PromQL query is empty', example);
  return { kind: 'prom', text, baseUrl: httpUrl(text, body.slice(0, bar).trim(), example), query };
}

const HEALTH_RE = /^([a-z0-9-]+)\s*(<=?)\s*(.+)$/i;

function healthGate(text: string): GateSpec {
  const m = HEALTH_RE.exec(text);
  const metric = m?.[1]?.toLowerCase();
  if (!m || !(HEALTH_METRICS as readonly string[]).includes(metric ?? '')) {
    bad(text, 'not a gate', `write one of: ${HEALTH_METRICS.map((x) => `${x}<…`).join(', ')}, sql:<query>, http:<url>, prom:<url>|<query>`);
  }
  const typed = metric as HealthMetric;
  return { kind: 'health', text, metric: typed, inclusive: m[2] === '<=', threshold: parseThreshold(text, typed, m[3]!.trim()) };
}

function parseThreshold(text: string, metric: HealthMetric, raw: string): Threshold {
  const relative = /^old\s*(?:([*+])\s*(.+))?$/i.exec(raw);
  if (relative) {
    const [, op, operand] = relative;
    if (op === undefined) return { relativeTo: 'old', plus: 0, times: 1 };
    // A factor is a plain number; what is added is a rate or a duration, like an absolute limit.
    const n = op === '*' ? plainNumber(text, operand!) : amount(text, metric, operand!.trim());
    return op === '*' ? { relativeTo: 'old', plus: 0, times: n } : { relativeTo: 'old', plus: n, times: 1 };
  }
  return { relativeTo: 'absolute', value: amount(text, metric, raw) };
}

function plainNumber(text: string, raw: string): number {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) bad(text, `"${raw}" is not a non-negative number`, 'e.g. p99<old*1.5');
  return n;
}

/** A rate (0.01, or 1%) for error-rate; a duration (200ms, 0.2s; a bare number is ms) for latencies. */
function amount(text: string, metric: HealthMetric, raw: string): number {
  if (metric === 'error-rate') {
    const pct = /^(.+?)\s*%$/.exec(raw);
    const n = pct ? plainNumber(text, pct[1]!) / 100 : plainNumber(text, raw);
    if (n > 1) bad(text, `an error rate of ${n} is more than 1 (100 %)`, 'write a share: error-rate<0.01, or error-rate<1%');
    return n;
  }
  if (/^\d+(?:\.\d+)?$/.test(raw)) return Number(raw);
  try {
    return parseDurationMs(raw, FIELD);
  } catch {
    return bad(text, `"${raw}" is not a duration`, `write e.g. ${metric}<200ms or ${metric}<old*1.5`);
  }
}

/** The percentages of `--steps 1,5,25,50,100`: each above 0 and at most 100, strictly increasing. */
export function parseSteps(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const steps = parts.map(Number);
  const hint = 'write increasing percentages between 0 (excluded) and 100, e.g. --steps 1,5,25,50,100';
  steps.forEach((p, i) => {
    if (parts[i] === '' || !Number.isFinite(p) || p <= 0 || p > 100) {
      throw new InvalidInputError(`step "${parts[i]}" is not a percentage above 0 and at most 100`, { field: '--steps' }, hint, { code: 'usage' });
    }
    if (i > 0 && p <= steps[i - 1]!) throw new InvalidInputError(`step ${p} does not increase on ${steps[i - 1]}`, { field: '--steps' }, hint, { code: 'usage' });
  });
  return steps;
}
