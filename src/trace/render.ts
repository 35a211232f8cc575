import { strength } from './locks.js';
import type { StatementTrace, TracedLock } from './trace.js';
import type { TraceRun } from './run.js';

function ms(n: number | undefined): string {
  if (n === undefined) return '';
  return n < 10 ? `${n.toFixed(2)} ms` : n < 1000 ? `${n.toFixed(1)} ms` : `${(n / 1000).toFixed(2)} s`;
}

function oneLine(sql: string, max = 70): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function table(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => `${indent}${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')}`.trimEnd());
}

export function sortLocks(locks: TracedLock[]): TracedLock[] {
  return [...locks].sort((a, b) => a.acquiredBy - b.acquiredBy || strength(b.mode) - strength(a.mode) || a.relation.localeCompare(b.relation));
}

function statementLine(t: StatementTrace): string[] {
  const lines = [`#${t.index + 1}  ${t.where}  ${oneLine(t.sql)}`];
  const pad = '      ';
  switch (t.status) {
    case 'traced': {
      lines.push(`${pad}ran in ${ms(t.durationMs)}`);
      for (const r of t.rewrites) lines.push(`${pad}REWRITE  ${r.relation} (${r.kind}): new relfilenode ${r.relfilenodeBefore} -> ${r.relfilenodeAfter}`);
      if (!t.rewrite) lines.push(`${pad}no rewrite`);
      if (t.created.length) lines.push(`${pad}created: ${t.created.join(', ')}`);
      if (t.dropped.length) lines.push(`${pad}dropped: ${t.dropped.join(', ')}`);
      if (!t.locks.length)
        lines.push(`${pad}${t.locksComplete ? 'no lock on a user relation' : 'no new lock (locks it needs that the transaction already held are not visible here)'}`);
      else {
        lines.push(
          ...table(
            sortLocks(t.locks).map((l) => [
              l.modeName,
              `${l.relation} (${l.kind})`,
              l.acquiredBy === t.index ? `held ${ms(l.heldMs)}` : `held since #${l.acquiredBy + 1}`,
              l.impact,
            ]),
            pad,
          ),
        );
      }
      break;
    }
    case 'failed':
      lines.push(`${pad}FAILED${t.sqlstate ? ` [${t.sqlstate}]` : ''}: ${t.reason ?? ''}`);
      break;
    default:
      lines.push(`${pad}${t.status === 'not-run' ? 'not run: an earlier statement failed' : (t.reason ?? t.status)}`);
  }
  return lines;
}

/** The trace for humans: per statement, then every lock with how long it was held. */
export function renderTrace(run: TraceRun): string {
  const out: string[] = [];
  const where =
    run.database.kind === 'given' ? run.database.url : run.database.kind === 'embedded' ? 'an embedded PostgreSQL (scratch database)' : `a scratch database (${run.database.url})`;
  out.push(`trace of ${run.file} on ${where}${run.setup ? `, after setup ${run.setup.file} (${run.setup.statements} statements)` : ''}`);
  out.push('all statements ran in one transaction, rolled back at the end: nothing was changed');
  if (run.locksPerStatement === 'first-taken') {
    out.push('locks per statement: only those the statement took first (each statement runs alone only on a scratch database)');
  }
  out.push('');
  for (const t of run.statements) out.push(...statementLine(t), '');
  const rewrites = run.statements.filter((s) => s.rewrite);
  if (run.locks.length) {
    out.push('locks held until the end of the transaction (a lock is released only at COMMIT/ROLLBACK):');
    out.push(
      ...table([['relation', 'mode', 'taken by', 'held', 'impact'], ...sortLocks(run.locks).map((l) => [l.relation, l.modeName, `#${l.acquiredBy + 1}`, ms(l.heldMs), l.impact])]),
    );
    out.push('');
  }
  const failed = run.statements.find((s) => s.status === 'failed');
  out.push(
    `${run.statements.filter((s) => s.status === 'traced').length} of ${run.statements.length} statements traced in ${ms(run.totalMs)}; ` +
      `${rewrites.length} rewrite${rewrites.length === 1 ? '' : 's'}${rewrites.length ? ` (${rewrites.map((s) => `#${s.index + 1}`).join(', ')})` : ''}` +
      `${failed ? `; statement #${failed.index + 1} failed` : ''}`,
  );
  return out.join('\n');
}
