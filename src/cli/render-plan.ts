import type { PhaseEstimate, PlanEstimate } from '../estimate/estimator.js';
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

/** A duration as `tandem plan` shows it: ~ms under a second, ~s above, `?` when unknown. */
export function formatSeconds(s: number | null): string {
  if (s === null) return 'not estimated';
  if (s < 1) return `~${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
  if (s < 120) return `~${s.toFixed(1)} s`;
  return `~${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/**
 * The estimate section `tandem plan` prints after the plan: per step its lock, the rows it
 * touches (live statistics) and its estimated duration with what it is based on; a total per phase.
 */
export function renderEstimate(e: PlanEstimate, calibration?: { seconds: number; roundTripMs: number; commitMs: number; copies: string }): string {
  const head = calibration
    ? `estimates (PostgreSQL ${e.serverVersion}; live statistics; rates measured on this server in ${calibration.seconds.toFixed(1)} s` +
      ` on rolled-back synthetic copies${calibration.copies === 'temp' ? ' (TEMP tables)' : ''}; round trip ${calibration.roundTripMs.toFixed(2)} ms, commit ${calibration.commitMs.toFixed(2)} ms):`
    : `estimates (PostgreSQL ${e.serverVersion}; live statistics; durations not estimated: --no-estimate):`;
  const phase = (name: string, p: PhaseEstimate) => [
    `  ${name}: ${p.totalSeconds === null ? 'not estimated' : `${formatSeconds(p.totalSeconds)} in all`}${p.unestimated && p.totalSeconds !== null ? ` (+ ${p.unestimated} step${p.unestimated === 1 ? '' : 's'} not estimated)` : ''}`,
    ...p.steps.map(
      (s) =>
        `    ${s.step}. ${s.description}: ${s.lock}${s.lock === 'ROW EXCLUSIVE' && s.id.startsWith('backfill') ? ' per batch' : ''}, ${Math.round(s.rowsTouched).toLocaleString('en-US')} rows, ${formatSeconds(s.estimatedSeconds)}\n         ${s.basis}`,
    ),
  ];
  return [head, ...phase('start', e.start), ...phase('complete', e.complete), ...phase('rollback', e.rollback), ...e.notes.map((n) => `  note: ${n}`)].join('\n');
}
