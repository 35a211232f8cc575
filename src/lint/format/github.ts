import type { FileResult, LintReport } from '../types.js';

const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** GitHub Actions workflow commands for one file: one annotation per unsuppressed finding. */
export function formatGithubFile(file: FileResult): string {
  const out: string[] = [];
  for (const f of file.findings) {
    if (f.suppressed) continue;
    const props = [
      `file=${escapeProperty(f.file)}`,
      `line=${f.line}`,
      `col=${f.column}`,
      `endLine=${f.endLine}`,
      ...(f.endLine === f.line ? [`endColumn=${Math.max(f.endColumn, f.column)}`] : []),
      `title=${escapeProperty(`tandem lint: ${f.rule}`)}`,
    ].join(',');
    const body = f.rule === 'syntax-error' ? f.message : `${f.message}\nwhy: ${f.why}\nsafe: ${f.safe}\ntandem: ${f.tandem}`;
    out.push(`::${f.severity} ${props}::${escapeData(body)}\n`);
  }
  return out.join('');
}

export function formatGithubFooter(report: LintReport): string {
  return `tandem lint: ${report.errors} error(s), ${report.warnings} warning(s), ${report.suppressed} ignored in ${report.files.length} file(s), ${report.statements} statement(s)`;
}

export function formatGithub(report: LintReport): string {
  return report.files.map(formatGithubFile).join('') + formatGithubFooter(report);
}
