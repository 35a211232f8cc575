/**
 * Lints one file: parse, walk the statements in order with the file's context (tables created so
 * far, transaction blocks, lock_timeout, locks held), run the rules on each statement, and turn
 * their hits into findings. Produces data only; formatters render it.
 */
import type { Node, TypeName } from 'libpg-query';
import { as, constText, displayRel, names, normalizeTypeName, relFromNames, relName, str, type NormalType, type RelName } from './ast.js';
import { alterCmds, notNullCheckColumn, statementFacts } from './facts.js';
import { findIgnoreDirectives, type IgnoreDirective } from './ignores.js';
import { isRuleId, metaRules, rulesByKind } from './rules/index.js';
import { blankPsqlMetaCommands, parseSource, SourceText, type ParsedStatement, type loadParser } from './source.js';
import { catalogType } from './type-change.js';
import {
  LockMode,
  type CatalogTable,
  type FileResult,
  type FileView,
  type Finding,
  type Hit,
  type LintOptions,
  type Rule,
  type Severity,
  type StatementContext,
  type StatementFacts,
} from './types.js';
import type { Volatility } from './volatility.js';

type LibPgQuery = Awaited<ReturnType<typeof loadParser>>;

/** lock_timeout values: integers are milliseconds; strings may carry a unit. */
export function parseDuration(value: string): number | undefined {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const factor: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
  return n * (factor[unit] ?? 1);
}

class FileState implements FileView {
  inTransaction: boolean;
  heldAccessExclusive: { rel: RelName; line: number }[] = [];
  private sessionTimeout: { ms: number; line: number } | undefined;
  private localTimeout: { ms: number; line: number } | undefined;
  private readonly created = new Set<string>();
  private readonly indexTables = new Map<string, RelName>();
  /** table key → constraint name → column, for NOT VALID `CHECK (col IS NOT NULL)` added in the file. */
  private readonly pendingChecks = new Map<string, Map<string, string>>();
  private readonly proven = new Set<string>();
  private readonly functions = new Map<string, Volatility>();
  /** Column types the file set (normalised when asked for). */
  private readonly columnTypes = new Map<string, TypeName>();
  readonly catalog: LintOptions['catalog'];

  constructor(
    readonly path: string,
    readonly pgVersion: number,
    private readonly opts: LintOptions,
    private readonly src: SourceText,
  ) {
    this.inTransaction = opts.assumeInTransaction;
    this.catalog = opts.catalog;
  }

  get lockTimeout(): { ms: number; line: number } | undefined {
    const v = this.localTimeout ?? this.sessionTimeout;
    return v && v.ms > 0 ? v : undefined;
  }

  get defaultSchema(): string {
    return this.opts.defaultSchema;
  }

  key(rel: RelName): string {
    return `${rel.schema ?? this.opts.defaultSchema}.${rel.name}`;
  }

  isNew(rel: RelName): boolean {
    return this.created.size > 0 && this.created.has(this.key(rel));
  }

  table(rel: RelName): CatalogTable | undefined {
    return this.catalog?.tables.get(this.key(rel));
  }

  indexTable(index: RelName): RelName | undefined {
    const own = this.indexTables.get(this.key(index));
    if (own) return own;
    const hit = this.catalog?.indexes.get(this.key(index));
    return hit ? { schema: hit.schema, name: hit.table } : undefined;
  }

  columnType(rel: RelName, column: string): NormalType | undefined {
    const own = this.columnTypes.size > 0 ? normalizeTypeName(this.columnTypes.get(`${this.key(rel)}.${column}`)) : undefined;
    if (own) return own;
    const col = this.table(rel)?.columns.get(column);
    return col ? catalogType(col) : undefined;
  }

  notNullProven(rel: RelName, column: string): boolean {
    if (this.proven.has(`${this.key(rel)}.${column}`)) return true;
    return this.table(rel)?.notNullChecks.has(column) ?? false;
  }

  volatility(parts: string[]): Volatility | undefined {
    const full = parts.join('.');
    const bare = parts[parts.length - 1] ?? '';
    return this.functions.get(full) ?? this.functions.get(bare) ?? this.catalog?.functions.get(full) ?? this.catalog?.functions.get(bare);
  }

  lineOf(byteOffset: number): number {
    return this.src.positionOfByte(byteOffset).line;
  }

  private setTimeout(value: number | undefined, local: boolean, line: number): void {
    const v = value === undefined ? undefined : { ms: value, line };
    if (local) {
      if (this.inTransaction) this.localTimeout = v;
    } else this.sessionTimeout = v;
  }

  private endTransaction(): void {
    this.inTransaction = false;
    this.heldAccessExclusive = [];
    this.localTimeout = undefined;
  }

  /** Records what the statement did, after the rules have looked at it. */
  apply(node: Node, facts: StatementFacts, line: number): void {
    const tx = as(node, 'TransactionStmt');
    if (tx) {
      switch (tx.kind) {
        case 'TRANS_STMT_BEGIN':
        case 'TRANS_STMT_START':
          this.inTransaction = true;
          break;
        case 'TRANS_STMT_COMMIT':
        case 'TRANS_STMT_ROLLBACK':
        case 'TRANS_STMT_PREPARE':
          this.endTransaction();
          break;
        default:
          break;
      }
      return;
    }
    const set = as(node, 'VariableSetStmt');
    if (set) {
      if (set.kind === 'VAR_RESET_ALL') this.setTimeout(undefined, false, line);
      else if (set.name?.toLowerCase() === 'lock_timeout') {
        if (set.kind === 'VAR_SET_VALUE') {
          const text = constText(set.args?.[0]);
          this.setTimeout(text === undefined ? undefined : (parseDuration(text) ?? 0), Boolean(set.is_local), line);
        } else this.setTimeout(undefined, Boolean(set.is_local), line);
      }
      return;
    }
    const sel = as(node, 'SelectStmt');
    if (sel) {
      for (const t of sel.targetList ?? []) {
        const fc = as(as(t, 'ResTarget')?.val, 'FuncCall');
        if (!fc || names(fc.funcname).pop() !== 'set_config') continue;
        const [name, value, local] = fc.args ?? [];
        if (constText(name)?.toLowerCase() !== 'lock_timeout') continue;
        const v = constText(value);
        this.setTimeout(v === undefined ? undefined : (parseDuration(v) ?? 0), constText(local) === 'true', line);
      }
      const into = relName(sel.intoClause?.rel);
      if (into) this.created.add(this.key(into));
    }
    const create = as(node, 'CreateStmt');
    if (create) {
      const rel = relName(create.relation);
      if (rel && !(create.if_not_exists && this.table(rel))) this.created.add(this.key(rel));
    }
    const ctas = as(node, 'CreateTableAsStmt');
    if (ctas) {
      const rel = relName(ctas.into?.rel);
      if (rel && !(ctas.if_not_exists && this.table(rel))) this.created.add(this.key(rel));
    }
    const drop = as(node, 'DropStmt');
    if (drop) {
      for (const o of drop.objects ?? []) {
        const r = relFromNames(names(as(o, 'List')?.items));
        if (!r) continue;
        if (drop.removeType === 'OBJECT_TABLE') this.created.delete(this.key(r));
        if (drop.removeType === 'OBJECT_INDEX') this.indexTables.delete(this.key(r));
      }
    }
    const ren = as(node, 'RenameStmt');
    if (ren && ren.renameType === 'OBJECT_TABLE') {
      const rel = relName(ren.relation);
      if (rel && ren.newname && this.created.delete(this.key(rel))) {
        this.created.add(this.key(rel.schema ? { schema: rel.schema, name: ren.newname } : { name: ren.newname }));
      }
    }
    const idx = as(node, 'IndexStmt');
    if (idx?.idxname) {
      const rel = relName(idx.relation);
      if (rel) this.indexTables.set(this.key(rel.schema ? { schema: rel.schema, name: idx.idxname } : { name: idx.idxname }), rel);
    }
    const alter = as(node, 'AlterTableStmt');
    if (alter) {
      const rel = relName(alter.relation);
      if (rel) this.applyAlter(rel, alterCmds(alter));
    }
    const fn = as(node, 'CreateFunctionStmt');
    if (fn) {
      let v: Volatility = 'v';
      for (const o of fn.options ?? []) {
        const d = as(o, 'DefElem');
        if (d?.defname === 'volatility') {
          const s = str(d.arg);
          v = s === 'immutable' ? 'i' : s === 'stable' ? 's' : 'v';
        }
      }
      const parts = names(fn.funcname);
      this.functions.set(parts.join('.'), v);
      this.functions.set(parts[parts.length - 1] ?? '', v);
    }
    if (this.inTransaction) {
      for (const l of facts.locks) {
        if (l.mode !== LockMode.AccessExclusive || l.isNew) continue;
        if (!this.heldAccessExclusive.some((h) => this.key(h.rel) === this.key(l.rel))) this.heldAccessExclusive.push({ rel: l.rel, line });
      }
    }
  }

  private applyAlter(rel: RelName, cmds: ReturnType<typeof alterCmds>): void {
    const tkey = this.key(rel);
    for (const cmd of cmds) {
      switch (cmd.subtype) {
        case 'AT_AddConstraint': {
          const c = as(cmd.def, 'Constraint');
          if (!c) break;
          const col = notNullCheckColumn(c) ?? (c.contype === 'CONSTR_NOTNULL' ? names(c.keys)[0] : undefined);
          if (!col) break;
          if (c.skip_validation) {
            if (c.conname) {
              const m = this.pendingChecks.get(tkey) ?? new Map<string, string>();
              m.set(c.conname, col);
              this.pendingChecks.set(tkey, m);
            }
          } else this.proven.add(`${tkey}.${col}`);
          break;
        }
        case 'AT_ValidateConstraint': {
          const col = this.pendingChecks.get(tkey)?.get(cmd.name ?? '') ?? this.catalog?.tables.get(tkey)?.pendingNotNullChecks.get(cmd.name ?? '');
          if (col) this.proven.add(`${tkey}.${col}`);
          break;
        }
        case 'AT_AddColumn': {
          const def = as(cmd.def, 'ColumnDef');
          if (def?.colname && def.typeName) this.columnTypes.set(`${tkey}.${def.colname}`, def.typeName);
          break;
        }
        case 'AT_AlterColumnType': {
          const t = as(cmd.def, 'ColumnDef')?.typeName;
          if (cmd.name && t) this.columnTypes.set(`${tkey}.${cmd.name}`, t);
          break;
        }
        default:
          break;
      }
    }
  }
}

let dispatch: ReturnType<typeof rulesByKind> | undefined;

/** A rule's view of one statement (a class: one shape for every statement). */
class Ctx {
  readonly start: number;
  readonly end: number;
  readonly kind: string;
  readonly node: unknown;
  constructor(
    readonly index: number,
    s: ParsedStatement,
    private readonly src: SourceText,
    readonly file: FileView,
    readonly facts: StatementFacts,
  ) {
    this.start = s.start;
    this.end = s.end;
    this.kind = s.kind;
    this.node = (s.node as Record<string, unknown>)[s.kind];
  }

  get sql(): string {
    return this.src.sliceBytes(this.start, this.end);
  }
}

/** The statements each ignore directive applies to (or the whole file). */
function assignDirectives(src: SourceText, stmts: ParsedStatement[], directives: IgnoreDirective[]): Map<number, IgnoreDirective[]> {
  const byStmt = new Map<number, IgnoreDirective[]>();
  if (directives.length === 0 || stmts.length === 0) return byStmt;
  const extEnds = stmts.map((s, i) => {
    const endChar = src.charAt(s.end);
    const nl = src.text.indexOf('\n', endChar);
    const lineEnd = nl === -1 ? src.text.length : nl;
    const next = i + 1 < stmts.length ? src.charAt(stmts[i + 1]!.start) : src.text.length;
    return Math.min(lineEnd, next);
  });
  for (const d of directives) {
    if (d.scope === 'file') continue;
    const i = extEnds.findIndex((e) => d.offset < e);
    if (i === -1) continue;
    byStmt.set(i, [...(byStmt.get(i) ?? []), d]);
  }
  return byStmt;
}

export function lintText(lib: LibPgQuery, text: string, file: string, opts: LintOptions): FileResult {
  const parseText = blankPsqlMetaCommands(text);
  const src = new SourceText(parseText);
  const parsed = parseSource(lib, src, parseText);
  const findings: Finding[] = [];
  const result: FileResult = { file, statements: 0, findings, source: text };

  const levelOf = (id: string, defaultSeverity: Severity, hitSeverity?: Severity): Severity | undefined => {
    const configured = opts.levels[id];
    if (configured === 'off') return undefined;
    return configured ?? hitSeverity ?? defaultSeverity;
  };

  if (!parsed.ok) {
    const pos = src.position(parsed.charOffset);
    const meta = metaRules['syntax-error'];
    result.parseError = { message: parsed.message, line: pos.line, column: pos.column };
    findings.push({
      rule: meta.id,
      severity: 'error',
      file,
      line: pos.line,
      column: pos.column,
      endLine: pos.line,
      endColumn: pos.column,
      statement: 0,
      message: parsed.message,
      why: meta.docs.why,
      safe: meta.docs.safe,
      tandem: meta.docs.tandem,
    });
    return result;
  }

  const stmts = parsed.statements;
  result.statements = stmts.length;
  dispatch ??= rulesByKind();
  const state = new FileState(file, opts.pgVersion, opts, src);

  // Ignore directives.
  const directives = parseText.includes('tandem-ignore') ? findIgnoreDirectives(parseText) : [];
  const fileIgnores = directives.filter((d) => d.scope === 'file');
  const stmtIgnores = assignDirectives(src, stmts, directives);
  for (const d of directives) {
    const unknown = d.rules === 'all' ? [] : d.rules.filter((r) => !isRuleId(r));
    const problems: string[] = [];
    if (d.rules !== 'all' && d.rules.length === 0) problems.push('names no rule');
    if (unknown.length) problems.push(`names unknown rule${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (see tandem lint --list-rules)`);
    if (!d.reason) problems.push('gives no reason after ":"');
    const sev = levelOf('invalid-ignore', 'warning');
    if (problems.length && sev) {
      const pos = src.position(d.offset);
      const meta = metaRules['invalid-ignore'];
      findings.push({
        rule: meta.id,
        severity: sev,
        file,
        line: pos.line,
        column: pos.column,
        endLine: pos.line,
        endColumn: pos.column,
        statement: 0,
        message: `tandem-ignore${d.scope === 'file' ? '-file' : ''} ${problems.join('; ')}`,
        why: meta.docs.why,
        safe: meta.docs.safe,
        tandem: meta.docs.tandem,
      });
    }
  }

  for (let i = 0; i < stmts.length; i++) {
    const s = stmts[i]!;
    const facts = statementFacts(s.node, state);
    const ctx = new Ctx(i, s, src, state, facts) as unknown as StatementContext;
    const ignores = stmtIgnores.get(i);
    for (const rule of dispatch(s.kind)) {
      if (opts.levels[rule.id] === 'off') continue;
      let hits: Hit[] | undefined;
      try {
        hits = rule.check(ctx);
      } catch (err) {
        // A rule bug must not crash the whole run: report it on the statement.
        hits = [{ message: `internal error in rule ${rule.id}: ${(err as Error).message}`, severity: 'warning' }];
      }
      if (!hits) continue;
      for (const hit of hits) {
        const severity = levelOf(rule.id, rule.defaultSeverity, hit.severity);
        if (!severity) continue;
        const f = toFinding(src, file, i, s, rule, hit, severity, state);
        const ig = [...(ignores ?? []), ...fileIgnores].find((d) => d.rules === 'all' || d.rules.includes(rule.id));
        if (ig) f.suppressed = { reason: ig.reason, scope: ig.scope };
        findings.push(f);
      }
    }
    state.apply(s.node, facts, src.positionOfByte(s.start).line);
  }
  findings.sort((a, b) => a.line - b.line || a.column - b.column);
  return result;
}

function toFinding(src: SourceText, file: string, index: number, s: ParsedStatement, rule: Rule, hit: Hit, severity: Severity, state: FileState): Finding {
  const at = hit.location !== undefined && hit.location >= s.start && hit.location <= s.end ? hit.location : s.start;
  const pos = src.positionOfByte(at);
  const end = src.positionOfByte(s.end);
  const f: Finding = {
    rule: rule.id,
    severity,
    file,
    line: pos.line,
    column: pos.column,
    endLine: end.line,
    endColumn: end.column,
    statement: index + 1,
    message: hit.message,
    why: hit.why ?? rule.docs.why,
    safe: hit.safe ?? rule.docs.safe,
    tandem: hit.tandem ?? rule.docs.tandem,
  };
  if (hit.lock) f.lock = hit.lock;
  if (hit.rel) {
    const t = state.table(hit.rel);
    f.table = t
      ? { name: displayRel(t.schema === state.defaultSchema ? { name: t.name } : { schema: t.schema, name: t.name }), rows: t.rows, bytes: t.bytes }
      : { name: displayRel(hit.rel), rows: null, bytes: null };
  }
  return f;
}
