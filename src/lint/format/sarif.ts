import { metaRules, ruleIds, rules } from '../rules/index.js';
import type { LintReport, RuleDocs, Severity } from '../types.js';

/** SARIF 2.1.0, for GitHub code scanning and other SARIF viewers. */
export function formatSarif(report: LintReport, toolVersion: string): string {
  const all: { id: string; defaultSeverity: Severity; docs: RuleDocs }[] = [...ruleIds.map((id) => rules[id]), ...Object.values(metaRules)];
  const index = new Map(all.map((r, i) => [r.id, i]));
  const sarifRules = all.map((r) => ({
    id: r.id,
    name: r.id
      .split('-')
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join(''),
    shortDescription: { text: r.docs.summary },
    fullDescription: { text: r.docs.why },
    help: {
      text: `${r.docs.why}\nSafe: ${r.docs.safe}\nTandem: ${r.docs.tandem}`,
      markdown: `${r.docs.why}\n\n**Safe alternative:** ${r.docs.safe}\n\n**Tandem:** ${r.docs.tandem}${r.docs.bad ? `\n\n\`\`\`sql\n-- hazard\n${r.docs.bad}\n-- safe\n${r.docs.good ?? ''}\n\`\`\`` : ''}`,
    },
    defaultConfiguration: { level: r.defaultSeverity },
    properties: { tags: ['postgresql', 'migration', 'zero-downtime'] },
  }));
  const results = report.files.flatMap((file) =>
    file.findings.map((f) => ({
      ruleId: f.rule,
      ruleIndex: index.get(f.rule) ?? 0,
      level: f.severity,
      message: { text: `${f.message}: ${f.why}. Safe: ${f.safe}` },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: encodeURI(f.file.split('\\').join('/')), uriBaseId: '%SRCROOT%' },
            region: { startLine: f.line, startColumn: f.column, endLine: f.endLine, endColumn: f.endLine === f.line && f.endColumn <= f.column ? f.column + 1 : f.endColumn },
          },
        },
      ],
      ...(f.suppressed ? { suppressions: [{ kind: 'inSource', justification: f.suppressed.reason || '(no reason given)' }] } : {}),
      properties: {
        why: f.why,
        safe: f.safe,
        tandem: f.tandem,
        ...(f.lock ? { lock: f.lock } : {}),
        ...(f.table ? { table: f.table } : {}),
      },
    })),
  );
  const doc = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'tandem-lint', version: toolVersion, semanticVersion: toolVersion, rules: sarifRules } },
        columnKind: 'utf16CodeUnits',
        originalUriBaseIds: { '%SRCROOT%': { uri: './' } },
        invocations: [
          {
            executionSuccessful: report.parseErrors === 0,
            toolExecutionNotifications: report.files
              .filter((f) => f.parseError)
              .map((f) => ({
                level: 'error',
                message: { text: `cannot parse: ${f.parseError!.message}` },
                locations: [
                  {
                    physicalLocation: {
                      artifactLocation: { uri: encodeURI(f.file), uriBaseId: '%SRCROOT%' },
                      region: { startLine: f.parseError!.line, startColumn: f.parseError!.column },
                    },
                  },
                ],
              })),
          },
        ],
        results,
      },
    ],
  };
  return JSON.stringify(doc, null, 2);
}
