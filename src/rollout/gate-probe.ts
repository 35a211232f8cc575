/**
 * Gathering the facts the gates are judged on (judging: gate-eval.ts): the per-version health
 * the clients flushed, an SQL query, an HTTP endpoint, a Prometheus query. Every probe has a
 * timeout, and a probe that cannot get its fact fails its gate (with what went wrong) rather
 * than throwing: an unreachable health endpoint is not a healthy one.
 */
import type pg from 'pg';
import { readHealthRows, summarizeHealth } from '../client/health-report.js';
import { pgRunner, sqlstateOf } from '../client/sql-runner.js';
import { type GateVerdict, type HealthFacts, judgeHealthGate, judgeHttpStatus, judgePromResponse, judgeSqlResult } from './gate-eval.js';
import type { GateSpec } from './gate-spec.js';

export interface ProbeContext {
  client: pg.Client;
  schema: string;
  oldVersion: string;
  newVersion: string;
  /** Health flushed within this many seconds counts. */
  windowSeconds: number;
  minStatements: number;
  /** Timeout of each sql/http/prom probe, ms. */
  timeoutMs: number;
}

/** Both versions' health over the window (one read for all health gates of a check). */
export async function readHealthFacts(ctx: ProbeContext): Promise<HealthFacts> {
  const rows = await readHealthRows(pgRunner(ctx.client), ctx.schema, ctx.windowSeconds);
  const [old, neu] = summarizeHealth(rows, [ctx.oldVersion, ctx.newVersion]);
  return { old: old!, new: neu! };
}

export async function probeGates(ctx: ProbeContext, gates: GateSpec[]): Promise<{ verdicts: GateVerdict[]; health: HealthFacts }> {
  const health = await readHealthFacts(ctx);
  const verdicts: GateVerdict[] = [];
  for (const gate of gates) verdicts.push(await probeGate(ctx, gate, health));
  return { verdicts, health };
}

async function probeGate(ctx: ProbeContext, gate: GateSpec, health: HealthFacts): Promise<GateVerdict> {
  switch (gate.kind) {
    case 'health':
      return judgeHealthGate(gate, health, ctx.minStatements);
    case 'sql':
      return probeSql(ctx, gate).catch((err: unknown) => unreachable(gate, `the query failed: ${describe(err)}`));
    case 'http':
      return probeHttp(ctx, gate).catch((err: unknown) => unreachable(gate, `GET ${gate.url} failed: ${describe(err)}`));
    case 'prom':
      return probeProm(ctx, gate).catch((err: unknown) => unreachable(gate, `Prometheus query failed: ${describe(err)}`));
  }
}

function unreachable(gate: GateSpec, detail: string): GateVerdict {
  return { gate: gate.text, kind: gate.kind, passed: false, judged: true, detail };
}

function describe(err: unknown): string {
  const state = sqlstateOf(err);
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const base = err instanceof Error ? err.message : String(err);
  return `${base}${state ? ` (SQLSTATE ${state})` : ''}${cause && typeof cause.message === 'string' && cause.message !== base ? ` (${cause.message})` : ''}`;
}

/** The query runs read-only, under a statement_timeout, in a transaction that is rolled back. */
export async function runSqlGate(client: pg.Client, query: string, timeoutMs: number): Promise<Record<string, unknown>[]> {
  await client.query('BEGIN READ ONLY');
  try {
    await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(Math.max(1, Math.round(timeoutMs)))]);
    return (await client.query(query)).rows as Record<string, unknown>[];
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

async function probeSql(ctx: ProbeContext, gate: Extract<GateSpec, { kind: 'sql' }>): Promise<GateVerdict> {
  return judgeSqlResult(gate, await runSqlGate(ctx.client, gate.query, ctx.timeoutMs));
}

async function probeHttp(ctx: ProbeContext, gate: Extract<GateSpec, { kind: 'http' }>): Promise<GateVerdict> {
  // A redirect is not followed: it is not a 2xx of the endpoint that was named.
  const res = await fetch(gate.url, { redirect: 'manual', signal: AbortSignal.timeout(ctx.timeoutMs) });
  await res.body?.cancel().catch(() => undefined);
  return judgeHttpStatus(gate, res.status, res.statusText);
}

/** The Prometheus HTTP API's instant query: GET <base>/api/v1/query?query=<promql>. */
export function promQueryUrl(baseUrl: string, query: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const url = new URL('api/v1/query', base);
  url.searchParams.set('query', query);
  return url.toString();
}

async function probeProm(ctx: ProbeContext, gate: Extract<GateSpec, { kind: 'prom' }>): Promise<GateVerdict> {
  const res = await fetch(promQueryUrl(gate.baseUrl, gate.query), { signal: AbortSignal.timeout(ctx.timeoutMs), headers: { accept: 'application/json' } });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return unreachable(gate, `HTTP ${res.status}: the answer is not JSON`);
  }
  // Prometheus answers a bad query with 400 and a JSON error document: judged like any answer.
  return judgePromResponse(gate, body);
}
