import type { Action, Phase, Plan, Step } from '../plan/types.js';
import { TABLE_LOCK_MODES } from '../sql/lock-modes.js';
import { type Calibration, slowAction, type TableCalibration, unqualify } from './calibrate.js';
import type { EstimateFacts } from './facts.js';

/**
 * How long each step of a plan will take on the live table sizes: a pure function of the plan,
 * the live statistics (facts.ts) and the calibration measured on this server (calibrate.ts), so
 * that it is tested without a database. Without a calibration (`--no-estimate`) it still gives
 * each step's lock and the rows it touches, and no duration.
 *
 *   backfill            rows × (seconds per row of the backfill's own batches on the sample)
 *                       + one WAL-flushing commit per batch + the final sweep (per row of the sample)
 *   CREATE INDEX        rows × (seconds per row of the same index built on the sample),
 *                       (CONCURRENTLY: the same, see CONCURRENT_INDEX_FACTOR)
 *   VALIDATE, sync check rows × (seconds per row of a sequential scan of the sample); before
 *                       complete's sync check, `tandem verify` of every row: rows × its check's rate on the sample
 *   other DDL           one round trip per statement (catalog-only: instant, but note its lock)
 *   raw SQL             not estimated
 */

export interface StepEstimate {
  phase: Phase;
  /** 1-based, as `tandem plan` numbers the steps. */
  step: number;
  id: string;
  description: string;
  /** The strongest lock the step takes (per batch for a backfill), or none. */
  lock: string;
  table: string | null;
  rowsTouched: number;
  estimatedSeconds: number | null;
  basis: string;
}

export interface PhaseEstimate {
  steps: StepEstimate[];
  /** Sum of the steps' estimates; null when none has one. */
  totalSeconds: number | null;
  /** Steps without an estimate (raw SQL, or no calibration). */
  unestimated: number;
}

export interface PlanEstimate {
  migration: string;
  calibrated: boolean;
  serverVersion: string;
  start: PhaseEstimate;
  complete: PhaseEstimate;
  rollback: PhaseEstimate;
  /** What the figures assume (e.g. earlier pending files of a directory applied). */
  notes: string[];
}

export interface EstimatorOptions {
  batchSize: number;
  notes?: string[];
}

/**
 * CREATE INDEX CONCURRENTLY against a plain build of the same index. It scans the table twice,
 * but on 1M rows (bench:estimate) it took no longer than the plain build on the sample predicts
 * (the sample's own build is the slower per row): 1, until a quiet machine measures otherwise.
 */
export const CONCURRENT_INDEX_FACTOR = 1;

const strongest = (locks: string[]): string => {
  let best = -1;
  for (const l of locks) best = Math.max(best, (TABLE_LOCK_MODES as readonly string[]).indexOf(l));
  return best >= 0 ? TABLE_LOCK_MODES[best]! : 'none';
};

const fmtRows = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtUs = (s: number) => `${(s * 1e6).toFixed(s * 1e6 < 10 ? 2 : 1)} µs`;
const fmtS = (s: number) => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);

interface Ctx {
  plan: Plan;
  facts: EstimateFacts;
  calibration: Calibration | undefined;
  options: EstimatorOptions;
}

function rowsOfTable(ctx: Ctx, table: string): number {
  return ctx.facts.tables.find((t) => t.table === table)?.rows ?? 0;
}

function calibrationOf(ctx: Ctx, table: string): TableCalibration | undefined {
  return ctx.calibration?.tables.find((t) => t.table === table);
}

const rtt = (ctx: Ctx) => (ctx.calibration?.roundTripMs ?? 0) / 1000;
const commit = (ctx: Ctx) => (ctx.calibration?.commitMs ?? 0) / 1000;

export function estimatePlan(plan: Plan, facts: EstimateFacts, calibration: Calibration | undefined, options: EstimatorOptions): PlanEstimate {
  const ctx: Ctx = { plan, facts, calibration, options };
  const phase = (name: Phase, steps: Step[]): PhaseEstimate => {
    const estimates = steps.map((s, i) => estimateStep(ctx, name, i, s));
    const known = estimates.filter((e) => e.estimatedSeconds !== null);
    return {
      steps: estimates,
      // A phase with no step takes no time; one whose steps all lack an estimate has none.
      totalSeconds: known.length ? known.reduce((t, e) => t + e.estimatedSeconds!, 0) : estimates.length ? null : 0,
      unestimated: estimates.length - known.length,
    };
  };
  return {
    migration: plan.migration,
    calibrated: calibration !== undefined,
    serverVersion: facts.serverVersion,
    start: phase('start', plan.start),
    complete: phase('complete', plan.complete),
    rollback: phase('rollback', plan.rollback),
    notes: options.notes ?? [],
  };
}

function estimateStep(ctx: Ctx, phase: Phase, index: number, step: Step): StepEstimate {
  const base = { phase, step: index + 1, id: step.id, description: step.description };
  if (step.kind === 'backfill') return { ...base, ...(step.verifyOnly ? syncCheck(ctx, step.table) : backfill(ctx, step.table, step.estimatedRows)) };
  if (step.kind === 'version-schema') {
    return { ...base, lock: 'ACCESS SHARE', table: null, rowsTouched: 0, ...instant(ctx, 2 + ctx.facts.tables.length, 'views made from the catalog, one transaction') };
  }
  const parts = step.actions.map((a) => actionEstimate(ctx, a));
  const tables = [...new Set(step.actions.map((a) => a.table).filter((t): t is string => t !== undefined))];
  const unknown = parts.find((p) => p.seconds === null);
  const seconds = unknown ? null : parts.reduce((t, p) => t + p.seconds!, 0) + (step.transactional ? commit(ctx) + 2 * rtt(ctx) : 0);
  const slow = parts.filter((p) => p.rows > 0);
  const basis = unknown
    ? unknown.basis
    : slow.length
      ? slow.map((p) => p.basis).join('; ')
      : `instant DDL (catalog only): ${step.actions.length} statement${step.actions.length === 1 ? '' : 's'} × round trip${step.transactional ? ' + commit' : ''}`;
  return {
    ...base,
    lock: strongest(step.actions.map((a) => a.lock)),
    table: tables.length === 1 ? unqualify(tables[0]!, ctx.plan.schema) : tables.length ? tables.map((t) => unqualify(t, ctx.plan.schema)).join(', ') : null,
    rowsTouched: Math.max(0, ...parts.map((p) => p.rows)),
    estimatedSeconds: ctx.calibration ? seconds : null,
    basis: ctx.calibration ? basis : `${basis} (not timed: --no-estimate)`,
  };
}

function instant(ctx: Ctx, statements: number, what: string): { estimatedSeconds: number | null; basis: string } {
  if (!ctx.calibration) return { estimatedSeconds: null, basis: `${what} (not timed: --no-estimate)` };
  return { estimatedSeconds: statements * rtt(ctx) + commit(ctx), basis: `${what}: ${statements} statements × round trip ${fmtS(rtt(ctx))} + commit` };
}

function backfill(ctx: Ctx, table: string, plannedRows: number): Omit<StepEstimate, 'phase' | 'step' | 'id' | 'description'> {
  const rows = ctx.facts.tables.some((t) => t.table === table) ? rowsOfTable(ctx, table) : plannedRows;
  const head = { lock: 'ROW EXCLUSIVE', table, rowsTouched: rows };
  if (rows === 0) return { ...head, estimatedSeconds: 0, basis: 'the table is empty' };
  const c = calibrationOf(ctx, table);
  if (!ctx.calibration || !c || c.backfillSeconds === null) {
    return { ...head, estimatedSeconds: null, basis: ctx.calibration ? 'not measured on this server' : 'not timed: --no-estimate' };
  }
  const perRow = c.backfillSeconds / c.sampleRows;
  const batches = Math.ceil(rows / ctx.options.batchSize);
  const sweep = ((c.sweepSeconds ?? 0) / c.sampleRows) * rows;
  const seconds = rows * perRow + batches * commit(ctx) + sweep;
  return {
    ...head,
    estimatedSeconds: seconds,
    basis:
      `${fmtRows(rows)} rows × ${fmtUs(perRow)}/row (${c.backfillMethod === 'batch-statement' ? 'its batch statement' : 'a keyset UPDATE of the new columns'} over ${fmtRows(c.sampleRows)} synthetic rows on this server) ` +
      `+ ${fmtRows(batches)} commits × ${fmtS(commit(ctx))} + final sweep ${fmtS(sweep)}`,
  };
}

function syncCheck(ctx: Ctx, table: string): Omit<StepEstimate, 'phase' | 'step' | 'id' | 'description'> {
  const rows = rowsOfTable(ctx, table);
  const scan = scanPerRow(ctx, table);
  const head = { lock: 'ACCESS SHARE', table, rowsTouched: rows };
  if (!ctx.calibration) return { ...head, estimatedSeconds: null, basis: 'a scan of the marker, after `tandem verify` of every row (not timed: --no-estimate)' };
  if (scan === undefined) return { ...head, estimatedSeconds: rtt(ctx), basis: 'a scan of the marker (table not measured)' };
  const c = calibrationOf(ctx, table)!;
  // complete first runs `tandem verify` (every row checked against `up`; skipped with --no-verify).
  const verify = c.verifySeconds !== null ? (c.verifySeconds / c.sampleRows) * rows : 0;
  return {
    ...head,
    estimatedSeconds: rows * scan + verify + rtt(ctx),
    basis:
      `a scan of the marker: ${fmtRows(rows)} rows × ${fmtUs(scan)}/row` +
      (c.verifySeconds !== null ? `; before it, tandem verify (skipped with --no-verify): ${fmtRows(rows)} rows × ${fmtUs(c.verifySeconds / c.sampleRows)}/row` : ''),
  };
}

function scanPerRow(ctx: Ctx, table: string): number | undefined {
  const c = calibrationOf(ctx, table);
  return c ? c.scanSeconds / c.sampleRows : undefined;
}

function actionEstimate(ctx: Ctx, a: Action): { seconds: number | null; rows: number; basis: string } {
  if (a.description.startsWith('raw sql')) return { seconds: null, rows: 0, basis: 'raw SQL: not estimated (time it with `tandem rehearse`)' };
  const table = a.table ? unqualify(a.table, ctx.plan.schema) : undefined;
  if (!table || !slowAction(a)) return { seconds: rtt(ctx), rows: 0, basis: 'instant' };
  const rows = rowsOfTable(ctx, table);
  if (rows === 0) return { seconds: rtt(ctx), rows: 0, basis: 'instant' };
  const c = calibrationOf(ctx, table);
  const isIndex = /^CREATE (UNIQUE )?INDEX\b/.test(a.sql);
  const concurrent = /\bCONCURRENTLY\b/.test(a.sql);
  if (isIndex) {
    const measured = c?.indexSeconds[a.sql];
    const factor = concurrent ? CONCURRENT_INDEX_FACTOR : 1;
    if (c && measured !== undefined) {
      const perRow = measured / c.sampleRows;
      return {
        seconds: rows * perRow * factor,
        rows,
        basis: `${a.description}: ${fmtRows(rows)} rows × ${fmtUs(perRow)}/row (the same index built over ${fmtRows(c.sampleRows)} rows)${concurrent && factor !== 1 ? ` × ${factor} (CONCURRENTLY: a second pass)` : ''}`,
      };
    }
    const scan = scanPerRow(ctx, table);
    return scan === undefined
      ? { seconds: null, rows, basis: `${a.description}: not measured` }
      : { seconds: rows * scan * 10 * factor, rows, basis: `${a.description}: ${fmtRows(rows)} rows × 10 scans of a row (index not measured)` };
  }
  const scan = scanPerRow(ctx, table);
  if (scan === undefined) return { seconds: null, rows, basis: `${a.description}: not measured` };
  return { seconds: rows * scan, rows, basis: `${a.description}: a scan, ${fmtRows(rows)} rows × ${fmtUs(scan)}/row` };
}
