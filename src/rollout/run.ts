/**
 * `tandem rollout run`: widen the share of keys routed to the new version step by step, judging
 * the gates before each step and, during each step's interval, every `checkEveryMs`. The first
 * failing gate routes 0% to the new version at once (one transaction: clients hear it by
 * LISTEN/NOTIFY within milliseconds, by polling within their poll interval) and, with
 * `onFail: 'rollback'`, rolls the migration back after `drainMs` (the time clients need to
 * follow). Success leaves the last step's percentage (100 by default); `complete` stays a
 * separate command.
 *
 * Resumable: a run started again begins at the first step above the current percentage, so a
 * key never moves back from new to old between two runs.
 */
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError, RunnerBusyError, type TandemError } from '../errors.js';
import type { EngineOptions } from '../engine/lifecycle.js';
import { oldVersionOf } from '../state/rollout-store.js';
import { sqlstateOf } from '../client/sql-runner.js';
import { errorRate, firstFailure, type GateVerdict, type HealthFacts } from './gate-eval.js';
import type { GateSpec } from './gate-spec.js';
import { type ProbeContext, probeGates, runSqlGate } from './gate-probe.js';
import { activeMigration, currentPercent, routePercent } from './route.js';

export interface RolloutRunOptions {
  schema: string;
  steps: number[];
  /** How long each step holds (its gates judged throughout) before the next, ms. */
  intervalMs: number;
  /** How often the gates are judged during a step, ms. */
  checkEveryMs: number;
  /** Health flushed within this window counts for the health gates, ms (never before the run began). */
  windowMs: number;
  minStatements: number;
  gates: GateSpec[];
  /** After routing back to 0%: stop there, or also roll the migration back. */
  onFail: 'stop' | 'rollback';
  /** Between routing back to 0% and rolling back: for the clients to follow, ms. */
  drainMs: number;
  /** Timeout of each sql/http/prom probe, ms. */
  probeTimeoutMs: number;
  /** The engine's options for the rollback. */
  engine: EngineOptions;
  /** Progress, for the human output. */
  onEvent?: (e: RolloutEvent) => void;
}

export type RolloutEvent =
  | { type: 'step'; percent: number; previousPercent: number; at: Date }
  | { type: 'check'; percent: number; verdicts: GateVerdict[]; health: HealthFacts }
  | { type: 'failed'; percent: number; failure: GateVerdict }
  | { type: 'routed-back'; at: Date }
  | { type: 'rolling-back' }
  | { type: 'rolled-back'; at: Date };

export interface StepRecord {
  percent: number;
  /** Server time of the change. */
  startedAt: string;
  checks: number;
  /** The new and old versions' health at the step's last check. */
  health: { new: HealthLine; old: HealthLine } | null;
}

export interface HealthLine {
  statements: number;
  errors: number;
  errorRate: number;
  p99Ms: number;
}

export interface RolloutRunResult {
  schema: string;
  migration: string;
  oldVersion: string;
  newVersion: string;
  outcome: 'passed' | 'gate-failed';
  /** The percentage routed to the new version at the end. */
  percent: number;
  steps: StepRecord[];
  gates: string[];
  failure?: {
    gate: string;
    detail: string;
    /** The percentage in force when the gate failed. */
    atPercent: number;
    /** Server time of the routing back to 0%. */
    routedBackAt: string;
    rolledBack: boolean;
    rolledBackAt?: string;
    /** When the rollback itself failed: its error (the migration stays at 0%, `tandem rollback` again). */
    rollbackError?: { code: string; message: string };
  };
}

const healthLine = (h: HealthFacts['new']): HealthLine => ({ statements: h.statements, errors: h.errors, errorRate: errorRate(h), p99Ms: h.p99Ms });

/** Advisory lock class of "one `rollout run` per schema" (the runner lock of start/complete/rollback is 0x7a4d). */
const ROLLOUT_RUN_LOCK_CLASS = 0x7a4e;

/**
 * One run per schema at a time (two would widen and route back against each other): a session
 * advisory lock, so a killed run's lock goes with its connection. A rollback it starts takes the
 * runner lock as any rollback does.
 */
export async function runRollout(client: pg.Client, opts: RolloutRunOptions): Promise<RolloutRunResult> {
  const key = `tandem-rollout-run:${opts.schema}`;
  const got = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok`, [ROLLOUT_RUN_LOCK_CLASS, key]);
  if (!got.rows[0]!.ok) throw new RunnerBusyError(opts.schema, 'another `tandem rollout run` on this schema');
  try {
    return await runLocked(client, opts);
  } finally {
    await client.query(`SELECT pg_advisory_unlock($1, hashtext($2))`, [ROLLOUT_RUN_LOCK_CLASS, key]).catch(() => undefined);
  }
}

async function runLocked(client: pg.Client, opts: RolloutRunOptions): Promise<RolloutRunResult> {
  const m = await activeMigration(client, opts.schema);
  await checkSqlGates(client, opts);
  const from = await currentPercent(client, m);
  const ctxBase = { client, schema: opts.schema, oldVersion: oldVersionOf(m), newVersion: m.version_schema, minStatements: opts.minStatements, timeoutMs: opts.probeTimeoutMs };
  const result: RolloutRunResult = {
    schema: opts.schema,
    migration: m.name,
    oldVersion: ctxBase.oldVersion,
    newVersion: ctxBase.newVersion,
    outcome: 'passed',
    percent: from,
    steps: [],
    gates: opts.gates.map((g) => g.text),
  };
  const runStarted = performance.now();
  // The window never reaches back before this run: health of an earlier run is not this one's.
  const ctx = (): ProbeContext => ({ ...ctxBase, windowSeconds: Math.max(0.001, Math.min(opts.windowMs, performance.now() - runStarted + 1000) / 1000) });

  const judge = async (percent: number, step: StepRecord | undefined): Promise<GateVerdict | undefined> => {
    const { verdicts, health } = await probeGates(ctx(), opts.gates);
    if (step) {
      step.checks++;
      step.health = { new: healthLine(health.new), old: healthLine(health.old) };
    }
    opts.onEvent?.({ type: 'check', percent, verdicts, health });
    return firstFailure(verdicts);
  };

  let failure = await judge(from, undefined);
  for (const percent of opts.steps.filter((p) => p > from)) {
    if (failure) break;
    const change = await routePercent(client, m, percent, `step of tandem rollout run (gates: ${result.gates.join(', ') || 'none'})`);
    result.percent = percent;
    const step: StepRecord = { percent, startedAt: change.at.toISOString(), checks: 0, health: null };
    result.steps.push(step);
    opts.onEvent?.({ type: 'step', percent, previousPercent: change.previousPercent, at: change.at });
    failure = await hold(opts, () => judge(percent, step));
  }
  if (failure) await fail(client, m, opts, result, failure);
  return result;
}

/** Hold a step for one interval, judging the gates every checkEveryMs (and at its end); the first failure ends it. */
async function hold(opts: RolloutRunOptions, judge: () => Promise<GateVerdict | undefined>): Promise<GateVerdict | undefined> {
  const end = performance.now() + opts.intervalMs;
  for (;;) {
    const left = end - performance.now();
    await sleep(Math.max(0, Math.min(opts.checkEveryMs, left)));
    const failure = await judge();
    if (failure || left <= opts.checkEveryMs) return failure;
  }
}

async function fail(client: pg.Client, m: Awaited<ReturnType<typeof activeMigration>>, opts: RolloutRunOptions, result: RolloutRunResult, failure: GateVerdict): Promise<void> {
  const atPercent = result.percent;
  opts.onEvent?.({ type: 'failed', percent: atPercent, failure });
  const back = await routePercent(client, m, 0, `gate ${failure.gate} failed: ${failure.detail}`);
  result.percent = 0;
  result.outcome = 'gate-failed';
  result.failure = { gate: failure.gate, detail: failure.detail, atPercent, routedBackAt: back.at.toISOString(), rolledBack: false };
  opts.onEvent?.({ type: 'routed-back', at: back.at });
  if (opts.onFail !== 'rollback') return;
  await sleep(opts.drainMs);
  opts.onEvent?.({ type: 'rolling-back' });
  try {
    const { rollback } = await import('../engine/lifecycle.js');
    await rollback(client, { ...opts.engine, schema: opts.schema });
    const at = (await client.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]!.at;
    result.failure.rolledBack = true;
    result.failure.rolledBackAt = at.toISOString();
    opts.onEvent?.({ type: 'rolled-back', at });
  } catch (err) {
    const e = err as Partial<TandemError>;
    result.failure.rollbackError = { code: typeof e.code === 'string' ? e.code : 'rollback-failed', message: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Every sql: gate is run once before anything changes: a query that does not parse or names
 * what does not exist (SQLSTATE class 42) is a mistake in the command, exit 2.
 */
async function checkSqlGates(client: pg.Client, opts: RolloutRunOptions): Promise<void> {
  for (const gate of opts.gates) {
    if (gate.kind !== 'sql') continue;
    try {
      await runSqlGate(client, gate.query, opts.probeTimeoutMs);
    } catch (err) {
      const state = sqlstateOf(err);
      if (state?.startsWith('42')) {
        throw new InvalidInputError(`gate "${gate.text}": ${(err as Error).message} (SQLSTATE ${state})`, { field: '--gate' }, 'fix the query; it must return one boolean', {
          code: 'invalid-sql',
          cause: err,
        });
      }
    }
  }
}
