import type { FileResult, Finding, LintReport } from '../types.js';
import { activeFindings, humanBytes, humanRows, rankTables } from './common.js';

export interface HumanOptions {
  color: boolean;
}

/** Colors unless NO_COLOR is set (non-empty); forced by FORCE_COLOR; otherwise only on a TTY. */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return true;
  return Boolean(stream.isTTY);
}

function palette(color: boolean) {
  const wrap = (open: number, close: number) => (s: string) => (color ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return {
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    green: wrap(32, 39),
    cyan: wrap(36, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

const MAX_FRAME_LINES = 3;
const MAX_LINE = 160;

function codeFrame(lines: string[], f: Finding, c: ReturnType<typeof palette>): string[] {
  const out: string[] = [];
  const last = Math.min(f.endLine, f.line + MAX_FRAME_LINES - 1, lines.length);
  const width = String(last).length;
  for (let n = f.line; n <= last; n++) {
    let text = (lines[n - 1] ?? '').replace(/\t/g, ' ').replace(/\r$/, '');
    if (text.length > MAX_LINE) text = `${text.slice(0, MAX_LINE)}…`;
    const marker = n === f.line ? c.red('>') : ' ';
    out.push(`  ${marker} ${c.dim(`${String(n).padStart(width)} |`)} ${text}`);
    if (n === f.line) out.push(`    ${' '.repeat(width)} ${c.dim('|')} ${' '.repeat(Math.max(0, Math.min(f.column - 1, MAX_LINE)))}${c.red('^')}`);
  }
  if (f.endLine > last) out.push(`    ${' '.repeat(width)} ${c.dim('| …')}`);
  return out;
}

/** The findings of one file (empty when it has none to show). */
export function formatHumanFile(file: FileResult, opts: HumanOptions): string {
  const shown = file.findings.filter((f) => !f.suppressed);
  if (shown.length === 0) return '';
  const c = palette(opts.color);
  const out: string[] = [];
  const lines = file.source.split('\n');
  for (const f of shown) {
    const sev = f.severity === 'error' ? c.red(c.bold('error')) : c.yellow(c.bold('warning'));
    out.push(`${c.cyan(`${f.file}:${f.line}:${f.column}`)}  ${sev}  ${c.bold(f.rule)}  ${f.message}`);
    out.push(...codeFrame(lines, f, c));
    if (f.rule !== 'syntax-error' && f.rule !== 'invalid-ignore') {
      out.push(`  ${c.bold('why')}     ${f.why}`);
      out.push(`  ${c.bold('safe')}    ${f.safe}`);
      out.push(`  ${c.bold('tandem')}  ${f.tandem}`);
    } else if (f.rule === 'invalid-ignore') {
      out.push(`  ${c.bold('fix')}     ${f.safe}`);
    }
    if (f.table && f.table.bytes !== null) {
      out.push(`  ${c.bold('table')}   ${f.table.name}: ${f.table.rows === null ? 'rows unknown' : `~${humanRows(f.table.rows)} rows`}, ${humanBytes(f.table.bytes)}`);
    }
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** After the files: the tables ranked by size (schema-aware mode) and the summary line. */
export function formatHumanFooter(report: LintReport, opts: HumanOptions): string {
  const c = palette(opts.color);
  const out: string[] = [];
  if (report.schemaAware) {
    const ranked = rankTables(report);
    if (ranked.length) {
      out.push(c.bold('Hazards by table size (live catalog):'));
      for (const r of ranked) {
        out.push(`  ${r.table.padEnd(24)} ${(r.rows === null ? '?' : `~${humanRows(r.rows)}`).padStart(8)} rows  ${humanBytes(r.bytes).padStart(9)}  ${r.rules.join(', ')}`);
      }
      out.push('');
    }
  }
  out.push(summaryLine(report, c));
  return out.join('\n');
}

export function formatHuman(report: LintReport, opts: HumanOptions): string {
  return report.files.map((f) => formatHumanFile(f, opts)).join('') + formatHumanFooter(report, opts);
}

function summaryLine(report: LintReport, c: ReturnType<typeof palette>): string {
  const files = report.files.length;
  const touched = new Set(activeFindings(report).map((f) => f.file)).size;
  const parts: string[] = [];
  if (report.parseErrors) parts.push(c.red(`${report.parseErrors} file${report.parseErrors > 1 ? 's' : ''} could not be parsed`));
  if (report.errors - report.parseErrors > 0) parts.push(c.red(`${report.errors - report.parseErrors} error${report.errors - report.parseErrors > 1 ? 's' : ''}`));
  if (report.warnings) parts.push(c.yellow(`${report.warnings} warning${report.warnings > 1 ? 's' : ''}`));
  const scope = `${files} file${files === 1 ? '' : 's'}, ${report.statements} statement${report.statements === 1 ? '' : 's'}, PostgreSQL ${report.pgVersion}${report.schemaAware ? ', live catalog' : ''}`;
  const sup = report.suppressed ? `; ${report.suppressed} ignored by tandem-ignore` : '';
  if (parts.length === 0) return `${c.green('✔')} no problems (${scope})${sup}`;
  return `${c.red('✖')} ${parts.join(', ')} in ${touched} of ${files} file${files === 1 ? '' : 's'} (${scope})${sup}`;
}
