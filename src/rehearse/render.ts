import type { PhaseTiming, RehearseReport, RunReport } from './run.js';

/** What `tandem rehearse` prints: the copy, then per run every step's time and lock, and the clients' latency. */

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function renderPhase(p: PhaseTiming): string[] {
  return [
    `    ${p.migration} ${p.phase}: ${p.seconds.toFixed(2)} s`,
    ...p.steps.map(
      (s) =>
        `      ${s.step}. ${s.description}: ${s.seconds.toFixed(2)} s, ${s.lock}${s.id.startsWith('backfill') && s.lock === 'ROW EXCLUSIVE' ? ' per batch' : ''}, ${fmt(s.rowsTouched)} rows` +
        (s.heldMs !== null ? `; held ${s.heldMs.toFixed(1)} ms` : '') +
        (s.lockTimeouts ? `; ${s.lockTimeouts} lock timeouts, waited ${s.lockWaitMs.toFixed(0)} ms` : ''),
    ),
  ];
}

function renderRun(r: RunReport): string[] {
  const t = r.traffic;
  return [
    `  ${r.name === 'start-complete' ? 'start → complete' : 'start → rollback'}${r.error ? ` — FAILED: ${r.error}` : ''}`,
    ...r.phases.flatMap(renderPhase),
    `    clients: ${t.clients.old} old + ${t.clients.new} new version; ${fmt(t.statements)} statements, ${fmt(t.failedStatements)} failed` +
      (t.wrongResults ? `, ${fmt(t.wrongResults)} wrong` : ''),
    `    latency: p50 ${t.latencyMs.p50} ms, p99 ${t.latencyMs.p99} ms, max ${t.latencyMs.max} ms${t.worst ? ` (slowest: ${t.worst})` : ''}`,
    ...(t.longestLockWait ? [`    longest lock wait of a client: ${t.longestLockWait.ms} ms behind ${t.longestLockWait.blocker}`] : []),
    ...t.errors.map((e) => `    error: ${e}`),
  ];
}

export function renderRehearsal(r: RehearseReport): string {
  return [
    `rehearsal of schema ${r.live.schema} (live: PostgreSQL ${r.live.server}) on a scratch copy: ${r.scratch.server}, scale ${r.scale}`,
    `  copy: ${r.copy.tables.length} tables in ${r.copy.seconds.toFixed(1)} s`,
    ...r.copy.tables.map((t) => `    ${t.table}: ${fmt(t.rows)} synthetic rows (live ${fmt(t.liveRows)})${t.notes.length ? `; ${t.notes.join('; ')}` : ''}`),
    ...r.copy.notes.map((n) => `    ${n}`),
    ...r.runs.flatMap(renderRun),
    ...r.notes.map((n) => `  note: ${n}`),
  ].join('\n');
}
