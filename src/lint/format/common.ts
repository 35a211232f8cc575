import type { Finding, LintReport } from '../types.js';

export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function humanRows(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return String(Math.round(n));
}

export interface RankedTable {
  table: string;
  rows: number | null;
  bytes: number;
  findings: number;
  rules: string[];
}

/** Schema-aware mode: the tables hazards touch, largest first (bytes, then rows). */
export function rankTables(report: LintReport): RankedTable[] {
  const by = new Map<string, RankedTable>();
  for (const f of activeFindings(report)) {
    if (!f.table || f.table.bytes === null) continue;
    const r = by.get(f.table.name) ?? { table: f.table.name, rows: f.table.rows, bytes: f.table.bytes, findings: 0, rules: [] };
    r.findings++;
    if (!r.rules.includes(f.rule)) r.rules.push(f.rule);
    by.set(f.table.name, r);
  }
  return [...by.values()].sort((a, b) => b.bytes - a.bytes || (b.rows ?? 0) - (a.rows ?? 0));
}

export function activeFindings(report: LintReport): Finding[] {
  return report.files.flatMap((f) => f.findings.filter((x) => !x.suppressed));
}
