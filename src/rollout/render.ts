/** Human lines of `tandem rollout run` (and of the canary demo): one per step, check and failure. */
import { formatDuration } from './duration.js';
import { errorRate, type HealthFacts } from './gate-eval.js';
import type { RolloutEvent, RolloutRunResult } from './run.js';

const pct = (rate: number) => `${(rate * 100).toFixed(2)}%`;

/** `new 1,234 statements, 0.00% errors, p99 3.1 ms | old …` */
export function healthSummary(h: HealthFacts): string {
  const side = (name: string, v: HealthFacts['new']) =>
    `${name} ${v.statements.toLocaleString('en-US')} statements, ${pct(errorRate(v))} errors${v.statements > 0 ? `, p99 ${v.p99Ms.toFixed(1)} ms` : ''}`;
  return `${side('new', h.new)} | ${side('old', h.old)}`;
}

/** The line an event prints, or undefined for events that print nothing (a passing check while quiet). */
export function renderEvent(e: RolloutEvent, verbose: boolean): string | undefined {
  switch (e.type) {
    case 'step':
      return `step: ${e.previousPercent}% -> ${e.percent}% of keys on the new version (${e.at.toISOString()})`;
    case 'check': {
      if (!verbose) return undefined;
      const failed = e.verdicts.filter((v) => !v.passed).map((v) => v.gate);
      return `  check at ${e.percent}%: ${healthSummary(e.health)}${failed.length ? `; FAILED: ${failed.join(', ')}` : '; gates pass'}`;
    }
    case 'failed':
      return `gate ${e.failure.gate} failed at ${e.percent}%: ${e.failure.detail}`;
    case 'routed-back':
      return `routed 0% to the new version (${e.at.toISOString()}): every key is on the old version again`;
    case 'rolling-back':
      return 'rolling the migration back…';
    case 'rolled-back':
      return `migration rolled back (${e.at.toISOString()})`;
  }
}

export function renderResult(r: RolloutRunResult, intervalMs: number): string {
  if (r.outcome === 'passed') {
    return `rollout of ${r.migration} passed: ${r.percent}% of keys on ${r.newVersion} after ${r.steps.length} steps of ${formatDuration(intervalMs)}; run \`tandem complete\` to finish`;
  }
  const f = r.failure!;
  const rb = f.rolledBack ? '; the migration was rolled back' : f.rollbackError ? `; the rollback failed (${f.rollbackError.code}): run \`tandem rollback\`` : '';
  return `rollout of ${r.migration} stopped: gate ${f.gate} failed at ${f.atPercent}%; 0% of keys on ${r.newVersion}${rb}`;
}
