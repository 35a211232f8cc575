/**
 * SQL fragments of a migration file (types, expressions, storage parameters, raw statements)
 * checked with PostgreSQL's own parser before anything reaches the database. Each fragment is
 * parsed in a small wrapper and the parse tree must be exactly the expected shape, so that no
 * clause can be smuggled into the SQL it is later pasted into (`type: "int UNIQUE"`,
 * `check: "true) NOT VALID, DROP COLUMN x --"`). No database is needed; what only the catalog
 * can answer (is this function an aggregate, is it immutable) is tried in src/plan/trials.ts.
 */
import { loadModule, parseSync, scanSync, type Node } from 'libpg-query';
import { type InputErrorCode, type InputLocation, InvalidInputError } from '../errors.js';
import { ident, literal } from './ident.js';

let loaded: Promise<void> | undefined;

/** The parser (WASM) must be loaded once before any check of this module runs. */
export function loadFragmentParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** Line and column (1-based, in characters) inside the fragment itself. */
export interface FragmentPosition {
  line: number;
  column: number;
}

/** A fragment PostgreSQL's parser refuses, or one of the wrong shape. Exit code 2. */
export class SqlFragmentError extends InvalidInputError {
  constructor(
    problem: string,
    location: InputLocation,
    readonly fragment: string,
    readonly position: FragmentPosition | undefined,
    hint: string | undefined,
    code: InputErrorCode,
    options?: { cause?: unknown },
  ) {
    super(problem, location, hint, { ...options, code });
  }
}

function positionIn(fragment: string, charOffset: number): FragmentPosition {
  const before = [...fragment].slice(0, Math.max(0, charOffset));
  let line = 1;
  let column = 1;
  for (const ch of before) {
    if (ch === '\n') {
      line++;
      column = 1;
    } else column++;
  }
  return { line, column };
}

interface ParserError {
  message: string;
  sqlDetails?: { message?: string; cursorPosition?: number };
}

function parseWrapped(text: string, fragment: string, prefixChars: number, at: InputLocation, what: string, code: InputErrorCode): { stmts?: { stmt?: Node }[] } {
  try {
    return parseSync(text) as { stmts?: { stmt?: Node }[] };
  } catch (err) {
    const e = err as ParserError;
    const detail = e.sqlDetails?.message ?? e.message;
    const cursor = e.sqlDetails?.cursorPosition;
    const position = cursor === undefined ? undefined : positionIn(fragment, Math.min([...fragment].length, cursor - prefixChars));
    const where = position ? ` (line ${position.line}, column ${position.column} of the ${what})` : '';
    const hint = what === 'SQL' ? 'fix the SQL; nothing was run' : `the ${what} goes into SQL as written: fix its syntax`;
    throw new SqlFragmentError(`${what} does not parse: ${detail}${where}`, at, fragment, position, hint, code, { cause: err });
  }
}

function refuse(problem: string, at: InputLocation, fragment: string, code: InputErrorCode, hint?: string): never {
  throw new SqlFragmentError(problem, at, fragment, undefined, hint, code);
}

/** The keys of a one-key node's payload, or undefined when the node is not of that kind. */
function payload(node: Node | undefined, kind: string): Record<string, unknown> | undefined {
  if (!node || typeof node !== 'object') return undefined;
  return (node as Record<string, unknown>)[kind] as Record<string, unknown> | undefined;
}

function onlyKeys(obj: Record<string, unknown>, allowed: string[]): boolean {
  return Object.keys(obj).every((k) => allowed.includes(k));
}

/** The single target of `SELECT <target>` with nothing else in the statement, or undefined. */
function soleSelectTarget(result: { stmts?: { stmt?: Node }[] }): Node | undefined {
  if (result.stmts?.length !== 1) return undefined;
  const select = payload(result.stmts[0]!.stmt, 'SelectStmt');
  if (!select || !onlyKeys(select, ['targetList', 'limitOption', 'op'])) return undefined;
  if ((select['op'] ?? 'SETOP_NONE') !== 'SETOP_NONE' || (select['limitOption'] ?? 'LIMIT_OPTION_DEFAULT') !== 'LIMIT_OPTION_DEFAULT') return undefined;
  const targets = select['targetList'] as Node[] | undefined;
  if (targets?.length !== 1) return undefined;
  const target = payload(targets[0], 'ResTarget');
  if (!target || !onlyKeys(target, ['val', 'location'])) return undefined;
  return target['val'] as Node | undefined;
}

function hasComment(sql: string): boolean {
  return (scanSync(sql).tokens ?? []).some((t) => t.tokenName === 'SQL_COMMENT' || t.tokenName === 'C_COMMENT');
}

/** Parentheses balanced and never closed below the level the fragment starts at. */
function parenthesesBalanced(sql: string): boolean {
  let depth = 0;
  for (const t of scanSync(sql).tokens ?? []) {
    if (t.text === '(') depth++;
    else if (t.text === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * A column type: `SELECT NULL::<type>` must parse to exactly one cast of NULL to a type name,
 * nothing else (no constraint, no collation, no second statement, no comment).
 */
export function checkTypeFragment(type: string, at: InputLocation): void {
  const prefix = 'SELECT NULL::';
  const tree = parseWrapped(`${prefix}${type}`, type, prefix.length, at, 'type', 'invalid-type');
  const cast = payload(soleSelectTarget(tree), 'TypeCast');
  const arg = payload(cast?.['arg'] as Node | undefined, 'A_Const');
  const isType = cast !== undefined && onlyKeys(cast, ['arg', 'typeName', 'location']) && arg?.['isnull'] === true && cast['typeName'] !== undefined;
  if (!isType || hasComment(type)) {
    refuse(
      `"${type}" is not just a type: it would put other SQL into the column definition`,
      at,
      type,
      'invalid-type',
      'give only the type (e.g. "integer", "varchar(20)", "text[]"); use the nullable, unique, check, default and references fields for the rest',
    );
  }
}

/** What an expression is for: the rules PostgreSQL applies there differ. */
export type ExpressionPurpose = 'value' | 'default' | 'check' | 'predicate' | 'generated';

const purposeText: Record<ExpressionPurpose, string> = {
  value: 'an up/down expression',
  default: 'a DEFAULT',
  check: 'a CHECK constraint',
  predicate: 'an index predicate',
  generated: 'a generated column',
};

/**
 * One SQL expression, as it will be pasted between parentheses: it must parse as exactly one
 * expression (balanced parentheses, no second target, no FROM, no trailing statement).
 * Returns its parse tree.
 */
export function parseExpressionFragment(sql: string, at: InputLocation): Node {
  const prefix = 'SELECT (';
  const tree = parseWrapped(`${prefix}${sql})`, sql, prefix.length, at, 'expression', 'invalid-sql');
  const expr = soleSelectTarget(tree);
  if (!expr || !parenthesesBalanced(sql)) {
    refuse(
      'this is not one SQL expression: it would change the statement it is put into',
      at,
      sql,
      'invalid-sql',
      'give a single expression, e.g. "lower(email)"; parentheses must balance',
    );
  }
  return expr;
}

/** The first node below `root` for which `match` holds; subtrees under `skip` kinds are not entered. */
function findNode(
  root: unknown,
  match: (kind: string, value: Record<string, unknown>) => boolean,
  skip: string[] = [],
): { kind: string; value: Record<string, unknown> } | undefined {
  if (root === null || typeof root !== 'object') return undefined;
  if (Array.isArray(root)) {
    for (const item of root) {
      const found = findNode(item, match, skip);
      if (found) return found;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(root as Record<string, unknown>)) {
    if (v === null || typeof v !== 'object') continue;
    const isNode = !Array.isArray(v) && k.charCodeAt(0) >= 65 && k.charCodeAt(0) <= 90;
    if (isNode && match(k, v as Record<string, unknown>)) return { kind: k, value: v as Record<string, unknown> };
    if (isNode && skip.includes(k)) continue;
    const found = findNode(v, match, skip);
    if (found) return found;
  }
  return undefined;
}

function funcName(fc: Record<string, unknown>): string {
  return ((fc['funcname'] as Node[] | undefined) ?? []).map((n) => (payload(n, 'String')?.['sval'] as string | undefined) ?? '').join('.');
}

/** A call written as an aggregate (`count(*)`, `DISTINCT`, `ORDER BY`, `FILTER`) or a window (`OVER`). */
function aggregateSyntax(expr: Node): { name: string; window: boolean } | undefined {
  const found = findNode(
    expr,
    (kind, v) =>
      kind === 'GroupingFunc' ||
      (kind === 'FuncCall' && ['agg_star', 'agg_distinct', 'agg_order', 'agg_filter', 'agg_within_group', 'over'].some((k) => v[k] !== undefined && v[k] !== false)),
    ['SubLink'],
  );
  if (!found) return undefined;
  return { name: found.kind === 'GroupingFunc' ? 'grouping' : funcName(found.value), window: found.value['over'] !== undefined };
}

/**
 * Parse an expression and apply the rules of where it goes: no aggregate or window function
 * anywhere (they are evaluated per row: `count(*)` would be 1), and no subquery in a default,
 * check, index predicate or generated column (PostgreSQL refuses them there).
 */
export function checkExpressionFragment(sql: string, purpose: ExpressionPurpose, at: InputLocation): Node {
  const expr = parseExpressionFragment(sql, at);
  const agg = aggregateSyntax(expr);
  if (agg) {
    refuse(
      `${agg.window ? 'window' : 'aggregate'} function ${agg.name}() is not allowed in ${purposeText[purpose]}: it is evaluated for one row at a time`,
      at,
      sql,
      agg.window ? 'window-not-allowed' : 'aggregate-not-allowed',
      purpose === 'value' ? 'compute the value from the row itself; a subquery (SELECT count(*) FROM …) is allowed' : undefined,
    );
  }
  if (purpose !== 'value' && findNode(expr, (kind) => kind === 'SubLink')) {
    refuse(`a subquery is not allowed in ${purposeText[purpose]}`, at, sql, 'subquery-not-allowed', 'PostgreSQL refuses subqueries there; use a plain expression over the row');
  }
  return expr;
}

/** Raw SQL of a `sql` operation: it must parse (the statements themselves are the user's). */
export function checkStatementsFragment(sql: string, at: InputLocation): number {
  const tree = parseWrapped(sql, sql, 0, at, 'SQL', 'invalid-sql');
  return tree.stmts?.length ?? 0;
}

function renderParameterValue(arg: Node | undefined, at: InputLocation, text: string): string | undefined {
  if (arg === undefined) return undefined;
  const int = payload(arg, 'Integer');
  if (int) return String((int['ival'] as number | undefined) ?? 0);
  const float = payload(arg, 'Float');
  if (float && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(String(float['fval']))) return String(float['fval']);
  const string = payload(arg, 'String');
  if (string) return literal(typeof string['sval'] === 'string' ? string['sval'] : '');
  const bool = payload(arg, 'Boolean');
  if (bool) return bool['boolval'] ? 'true' : 'false';
  return refuse(
    `storage parameter values must be numbers, words or quoted strings: "${text}"`,
    at,
    text,
    'invalid-storage-parameter',
    'e.g. "fillfactor = 70, autovacuum_enabled = false"',
  );
}

/**
 * Storage parameters (`fillfactor = 70, autovacuum_enabled = false`): parsed as PostgreSQL's
 * reloptions and rendered again with quoted names and literal values, so that nothing else can
 * ride along into `WITH (…)`.
 */
export function renderStorageParameters(text: string, at: InputLocation): string {
  const prefix = 'ALTER TABLE t SET (';
  const tree = parseWrapped(`${prefix}${text})`, text, prefix.length, at, 'storage parameters', 'invalid-storage-parameter');
  const alter = tree.stmts?.length === 1 ? payload(tree.stmts[0]!.stmt, 'AlterTableStmt') : undefined;
  const cmds = (alter?.['cmds'] as Node[] | undefined) ?? [];
  const cmd = cmds.length === 1 ? payload(cmds[0], 'AlterTableCmd') : undefined;
  const items = (payload(cmd?.['def'] as Node | undefined, 'List')?.['items'] as Node[] | undefined) ?? [];
  if (!cmd || cmd['subtype'] !== 'AT_SetRelOptions' || items.length === 0 || !parenthesesBalanced(text) || hasComment(text)) {
    refuse(`"${text}" is not a list of storage parameters`, at, text, 'invalid-storage-parameter', 'give "name = value" pairs separated by commas, e.g. "fillfactor = 70"');
  }
  return items
    .map((item) => {
      const def = payload(item, 'DefElem')!;
      const namespace = typeof def['defnamespace'] === 'string' ? def['defnamespace'] : '';
      const name = `${namespace ? `${ident(namespace)}.` : ''}${ident(String(def['defname']))}`;
      const value = renderParameterValue(def['arg'] as Node | undefined, at, text);
      return value === undefined ? name : `${name} = ${value}`;
    })
    .join(', ');
}

/** A plain (possibly schema-qualified) name such as an index method: no SQL around it. */
export function checkPlainName(name: string, at: InputLocation, what: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(name)) refuse(`${what} "${name}" is not a plain name`, at, name, 'invalid-field', `give only the ${what}, e.g. "gist"`);
}

/** Identity sequence options (`START WITH 100 INCREMENT BY 10`): they must parse as CREATE SEQUENCE options, nothing more. */
export function checkSequenceOptions(text: string, at: InputLocation): void {
  const prefix = 'CREATE SEQUENCE s ';
  const tree = parseWrapped(`${prefix}${text}`, text, prefix.length, at, 'sequence options', 'invalid-sql');
  const ok = tree.stmts?.length === 1 && payload(tree.stmts[0]!.stmt, 'CreateSeqStmt') !== undefined && parenthesesBalanced(text) && !hasComment(text);
  if (!ok) refuse(`"${text}" is not a list of sequence options`, at, text, 'invalid-sql', 'e.g. "START WITH 100 INCREMENT BY 10"');
}

/** Exclusion constraint elements (`room WITH =, during WITH &&`): exactly one EXCLUDE constraint's element list. */
export function checkExclusionElements(elements: string, at: InputLocation): void {
  const prefix = 'CREATE TABLE t (EXCLUDE USING gist (';
  const tree = parseWrapped(`${prefix}${elements}))`, elements, prefix.length, at, 'exclusion elements', 'invalid-sql');
  const create = tree.stmts?.length === 1 ? payload(tree.stmts[0]!.stmt, 'CreateStmt') : undefined;
  const elts = (create?.['tableElts'] as Node[] | undefined) ?? [];
  const constraint = elts.length === 1 ? payload(elts[0], 'Constraint') : undefined;
  const ok =
    constraint?.['contype'] === 'CONSTR_EXCLUSION' &&
    constraint['where_clause'] === undefined &&
    constraint['options'] === undefined &&
    parenthesesBalanced(elements) &&
    !hasComment(elements);
  if (!ok) refuse(`"${elements}" is not a list of exclusion elements`, at, elements, 'invalid-sql', 'e.g. "room WITH =, during WITH &&"; the predicate goes in exclude.predicate');
}
