/**
 * `tandem lint` as a library: lint files or SQL text, get a report (data), render it with a
 * formatter. The CLI (src/cli/lint-command.ts) is a thin layer over this.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';
import { lintText } from './analyze.js';
import { readCatalog } from './catalog.js';
import { loadConfig } from './config.js';
import { expandInputs } from './files.js';
import { formatGithub, formatGithubFile, formatGithubFooter } from './format/github.js';
import { formatHuman, formatHumanFile, formatHumanFooter, shouldColor } from './format/human.js';
import { formatJson } from './format/json.js';
import { formatSarif } from './format/sarif.js';
import { metaRules, ruleIds, rules } from './rules/index.js';
import { lintInParallel, parallelism } from './parallel.js';
import { loadParser } from './source.js';
import type { Catalog, FileResult, LintOptions, LintReport, RuleLevel } from './types.js';

export type { Finding, FileResult, LintReport, LintOptions, Catalog } from './types.js';
export { rules, ruleIds, metaRules } from './rules/index.js';
export { readCatalog } from './catalog.js';

export const DEFAULT_PG_VERSION = 14;
export const FORMATS = ['human', 'json', 'sarif', 'github'] as const;
export type Format = (typeof FORMATS)[number];

export interface LintSqlOptions {
  file?: string;
  pgVersion?: number;
  assumeInTransaction?: boolean;
  levels?: Record<string, RuleLevel>;
  catalog?: Catalog;
  defaultSchema?: string;
}

/** Lints SQL text (one file's worth). */
export async function lintSql(sql: string, opts: LintSqlOptions = {}): Promise<FileResult> {
  const lib = await loadParser();
  return lintText(lib, sql, opts.file ?? '<sql>', toLintOptions(opts));
}

function toLintOptions(opts: LintSqlOptions): LintOptions {
  const o: LintOptions = {
    pgVersion: opts.pgVersion ?? opts.catalog?.serverVersion ?? DEFAULT_PG_VERSION,
    assumeInTransaction: opts.assumeInTransaction ?? false,
    levels: opts.levels ?? {},
    defaultSchema: opts.defaultSchema ?? opts.catalog?.defaultSchema ?? 'public',
  };
  if (opts.catalog) o.catalog = opts.catalog;
  return o;
}

export interface LintRunOptions {
  inputs: string[];
  /** From --pg-version; else the config file; else the server's (schema-aware); else 14. */
  pgVersion?: number;
  assumeInTransaction?: boolean;
  configFile?: string;
  databaseUrl?: string;
  defaultSchema?: string;
  cwd?: string;
  readStdin?: () => Promise<string>;
  /** Called with each file's result as soon as it is linted (to stream the output). */
  onFile?: (result: FileResult) => void;
}

export function summarize(files: FileResult[], pgVersion: number, schemaAware: boolean): LintReport {
  const report: LintReport = { pgVersion, schemaAware, files, errors: 0, warnings: 0, suppressed: 0, parseErrors: 0, statements: 0 };
  for (const f of files) {
    report.statements += f.statements;
    if (f.parseError) report.parseErrors++;
    for (const x of f.findings) {
      if (x.suppressed) report.suppressed++;
      else if (x.severity === 'error') report.errors++;
      else report.warnings++;
    }
  }
  return report;
}

/** 2 when a file could not be parsed, 1 when error-level findings remain, else 0. */
export function exitCodeFor(report: LintReport): 0 | 1 | 2 {
  if (report.parseErrors > 0) return 2;
  return report.errors > 0 ? 1 : 0;
}

export async function runLint(opts: LintRunOptions): Promise<LintReport> {
  // The WASM parser compiles in the background while the config, the catalog and the files are read.
  const parserReady = loadParser();
  parserReady.catch(() => undefined); // awaited below; no unhandled rejection if we fail first
  const cwd = opts.cwd ?? process.cwd();
  const config = await loadConfig(opts.configFile, cwd);
  if (opts.inputs.length === 0) throw new InvalidInputError('no files to lint', {}, 'tandem lint <files|dirs|globs> (or - for standard input)');
  const files = expandInputs(opts.inputs, config.exclude, cwd);
  if (files.length === 0) throw new InvalidInputError('every input is excluded by the lint config', { file: config.file ?? '' });

  let catalog: Catalog | undefined;
  if (opts.databaseUrl) {
    const { connect, redactUrl } = await import('../db/connection.js'); // pg: only in schema-aware mode
    const client = await connect(opts.databaseUrl, 'tandem-lint');
    try {
      catalog = await readCatalog(client, opts.defaultSchema ?? 'public');
    } catch (err) {
      throw new InvalidInputError(`cannot read the catalog of ${redactUrl(opts.databaseUrl)}: ${(err as Error).message}`, {}, undefined, { cause: err });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const pgVersion = opts.pgVersion ?? config.pgVersion ?? catalog?.serverVersion ?? DEFAULT_PG_VERSION;
  const lintOpts = toLintOptions({
    pgVersion,
    assumeInTransaction: opts.assumeInTransaction ?? config.assumeInTransaction ?? false,
    levels: config.levels,
    ...(catalog ? { catalog } : {}),
    defaultSchema: opts.defaultSchema ?? 'public',
  });
  const texts: string[] = [];
  for (const file of files) {
    try {
      texts.push(file === '-' ? await (opts.readStdin ?? readStdin)() : readFileSync(path.resolve(cwd, file), 'utf8'));
    } catch (err) {
      throw new InvalidInputError(`cannot read ${file}: ${(err as Error).message}`, { file }, undefined, { cause: err });
    }
  }
  const lib = await parserReady;
  const names = files.map((f) => (f === '-' ? '<stdin>' : f));
  const lintOne = (i: number) => lintText(lib, texts[i]!, names[i]!, lintOpts);
  const emit = (r: FileResult) => opts.onFile?.(r);
  let results: FileResult[];
  if (parallelism(files.length)) results = (await lintInParallel(names, texts, lintOpts, lintOne, emit)).results;
  else {
    results = files.map((_, i) => {
      const r = lintOne(i);
      texts[i] = '';
      emit(r);
      return r;
    });
  }
  return summarize(results, pgVersion, catalog !== undefined);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function render(report: LintReport, format: Format, opts: { color?: boolean; toolVersion?: string } = {}): string {
  const code = exitCodeFor(report);
  switch (format) {
    case 'json':
      return formatJson(report, code);
    case 'sarif':
      return formatSarif(report, opts.toolVersion ?? '0.0.0');
    case 'github':
      return formatGithub(report);
    default:
      return formatHuman(report, { color: opts.color ?? shouldColor(process.stdout) });
  }
}

/**
 * Streaming rendering for the CLI: human and GitHub output is written file by file as lint goes
 * (then the footer), so a large run keeps neither every source text nor one huge string; JSON and
 * SARIF are one document, written at the end.
 */
export function streamingRenderer(format: Format, write: (s: string) => void, opts: { color?: boolean; toolVersion?: string } = {}) {
  const color = opts.color ?? shouldColor(process.stdout);
  return {
    onFile(r: FileResult): void {
      if (format === 'human') write(formatHumanFile(r, { color }));
      else if (format === 'github') write(formatGithubFile(r));
      r.source = '';
    },
    finish(report: LintReport): void {
      if (format === 'human') write(`${formatHumanFooter(report, { color })}\n`);
      else if (format === 'github') write(`${formatGithubFooter(report)}\n`);
      else write(`${render(report, format, opts)}\n`);
    },
  };
}

/** `tandem lint --list-rules`: id, default severity and one line each. */
export function listRules(format: 'human' | 'json'): string {
  const all = [...ruleIds.map((id) => rules[id]), ...Object.values(metaRules)];
  if (format === 'json') {
    return JSON.stringify(
      all.map((r) => ({ id: r.id, severity: r.defaultSeverity, summary: r.docs.summary, why: r.docs.why, safe: r.docs.safe, tandem: r.docs.tandem })),
      null,
      2,
    );
  }
  const w = Math.max(...all.map((r) => r.id.length));
  return all.map((r) => `${r.id.padEnd(w)}  ${r.defaultSeverity.padEnd(7)}  ${r.docs.summary}`).join('\n');
}
