import type { Plan, Step } from '../plan/types.js';

/**
 * What `tandem plan` prints and examples/*.plan.txt hold (the golden plans): every statement of
 * each phase with its lock, and nothing that changes from one run to the next (no time, no oid).
 */

/** After a step marked irreversible, the old version's shape is gone: only complete can finish. */
const irreversible = (step: Step) => (step.irreversible ? '; irreversible: rollback is no longer possible after it' : '');

function renderStep(step: Step, index: number): string {
  if (step.kind === 'backfill' && step.verifyOnly) {
    return `  ${index + 1}. ${step.description}: reads the ${step.markerColumn} marker, changes nothing${irreversible(step)}`;
  }
  if (step.kind === 'backfill') {
    return `  ${index + 1}. ${step.description}: ${step.keyColumns.length ? `batches keyed on (${step.keyColumns.join(', ')})` : 'batches by ctid ranges (no primary or unique not-null key)'}, ~${Math.round(step.estimatedRows)} rows, ROW EXCLUSIVE, one transaction per batch${irreversible(step)}`;
  }
  if (step.kind === 'version-schema') return `  ${index + 1}. ${step.description} (one transaction; views made after the raw SQL ran${irreversible(step)})`;
  const head = `  ${index + 1}. ${step.description} (${step.transactional ? 'one transaction' : 'no transaction'}${irreversible(step)})`;
  const body = step.actions.map((a) => `       -- ${a.description}; lock: ${a.lock}${a.table ? ` on ${a.table}` : ''}\n       ${a.sql.replace(/\n/g, '\n       ')};`);
  return [head, ...body].join('\n');
}

export function renderPlan(plan: Plan): string {
  const section = (title: string, steps: Step[]) => [`${title}:`, ...(steps.length ? steps.map(renderStep) : ['  (nothing)'])].join('\n');
  return [
    `migration ${plan.migration} on schema ${plan.schema}; new version schema ${plan.versionSchema}` +
      (plan.previousVersionSchema ? `; replaces ${plan.previousVersionSchema}` : ''),
    section('start', plan.start),
    section('complete', plan.complete),
    section('rollback', plan.rollback),
  ].join('\n\n');
}
