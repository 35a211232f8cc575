import type { LintReport } from '../types.js';
import { rankTables } from './common.js';

/** One JSON document: summary, every finding (suppressed ones carry `suppressed`), per-file info. */
export function formatJson(report: LintReport, exitCode: number): string {
  const doc = {
    tool: 'tandem lint',
    pgVersion: report.pgVersion,
    schemaAware: report.schemaAware,
    exitCode,
    summary: {
      files: report.files.length,
      statements: report.statements,
      errors: report.errors,
      warnings: report.warnings,
      suppressed: report.suppressed,
      parseErrors: report.parseErrors,
    },
    findings: report.files.flatMap((f) => f.findings),
    files: report.files.map((f) => ({ file: f.file, statements: f.statements, ...(f.parseError ? { parseError: f.parseError } : {}) })),
    ...(report.schemaAware ? { tablesBySize: rankTables(report) } : {}),
  };
  return JSON.stringify(doc, null, 2);
}
