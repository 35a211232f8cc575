import type { Plan, Step } from '../plan/types.js';

function renderStep(step: Step, index: number): string {
  if (step.kind === 'backfill') {
    return `  ${index + 1}. ${step.description}: ${step.keyColumns.length ? `batches keyed on (${step.keyColumns.join(', ')})` : 'batches by ctid ranges (no primary or unique not-null key)'}, ~${Math.round(step.estimatedRows)} rows, ROW EXCLUSIVE, one transaction per batch`;
  }
  if (step.kind === 'version-schema') return `  ${index + 1}. ${step.description} (one transaction; views made after the raw SQL ran)`;
  const head = `  ${index + 1}. ${step.description} (${step.transactional ? 'one transaction' : 'no transaction'})`;
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
