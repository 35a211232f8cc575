import type pg from 'pg';
import type { Plan } from '../plan/types.js';
import { readSchemaSource } from '../rehearse/schema-copy.js';
import { ident } from '../sql/ident.js';
import { type Calibration, calibrate, unqualify } from './calibrate.js';
import { estimatePlan, type PlanEstimate } from './estimator.js';
import { type EstimateFacts, gatherEstimateFacts } from './facts.js';

/**
 * The estimate of one plan on the live database: statistics (one read-only snapshot), then,
 * unless `calibrate` is false, the calibration (rolled-back transactions and TEMP objects), then
 * the pure estimator. Changes nothing in the database.
 */
export interface EstimateOptions {
  schema: string;
  batchSize: number;
  calibrate: boolean;
  lockTimeoutMs?: number;
  lockRetryForMs?: number;
  notes?: string[];
  /** A calibration already made for an earlier plan of the same run (a directory's files): reused. */
  calibration?: Calibration;
}

export interface EstimateResult {
  estimate: PlanEstimate;
  facts: EstimateFacts;
  calibration: Calibration | undefined;
}

/** The tables of the target schema that a plan touches (backfills and actions' locks). */
export function tablesOfPlan(plan: Plan): string[] {
  const names = new Set<string>();
  const prefix = `${ident(plan.schema)}.`;
  for (const step of [...plan.start, ...plan.complete, ...plan.rollback]) {
    if (step.kind === 'backfill') names.add(step.table);
    if (step.kind === 'sql') for (const a of step.actions) if (a.table?.startsWith(prefix)) names.add(unqualify(a.table, plan.schema));
  }
  return [...names].sort();
}

export async function estimateOnDatabase(client: pg.Client, plan: Plan, opts: EstimateOptions): Promise<EstimateResult> {
  const facts = await gatherEstimateFacts(client, {
    schema: opts.schema,
    tables: tablesOfPlan(plan),
    ...(opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {}),
    ...(opts.lockRetryForMs !== undefined ? { lockRetryForMs: opts.lockRetryForMs } : {}),
  });
  let calibration = opts.calibration;
  if (opts.calibrate && !calibration) {
    const source = await readSchemaSource(client, opts.schema);
    calibration = await calibrate(client, { schema: opts.schema, plan, facts, source, batchSize: opts.batchSize });
  } else if (opts.calibrate && calibration) {
    // Tables this plan needs that the earlier calibration did not measure.
    const missing = tablesOfPlan(plan).filter((t) => !calibration!.tables.some((c) => c.table === t));
    if (missing.length) {
      const source = await readSchemaSource(client, opts.schema);
      const more = await calibrate(client, { schema: opts.schema, plan, facts, source, batchSize: opts.batchSize });
      calibration = { ...calibration, tables: [...calibration.tables, ...more.tables.filter((t) => missing.includes(t.table))] };
    }
  }
  const measured = opts.calibrate && calibration ? calibration : undefined;
  const calibrationNotes = measured ? [...measured.failures, ...measured.tables.flatMap((t) => t.notes.map((n) => `calibration of ${t.table}: ${n}`))] : [];
  const estimate = estimatePlan(plan, facts, measured, { batchSize: opts.batchSize, notes: [...(opts.notes ?? []), ...calibrationNotes] });
  return { estimate, facts, calibration: opts.calibrate ? calibration : undefined };
}
