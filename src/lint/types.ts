/**
 * The data model of `tandem lint`: rules produce hits over a typed statement context, the
 * analyzer turns hits into findings (plain data), and formatters render findings. Nothing here
 * prints.
 */
import type { NodeKind, NodeOf, NormalType, RelName } from './ast.js';
import type { Volatility } from './volatility.js';
import { LOCK_MODE_INFO, TABLE_LOCK_MODES, type TableLockMode } from '../sql/lock-modes.js';

export type Severity = 'error' | 'warning';
export type RuleLevel = Severity | 'off';

/** PostgreSQL's table lock modes by level (lmgr numbering), for comparisons; facts in src/sql/lock-modes.ts. */
export const LockMode = {
  AccessShare: 1,
  RowShare: 2,
  RowExclusive: 3,
  ShareUpdateExclusive: 4,
  Share: 5,
  ShareRowExclusive: 6,
  Exclusive: 7,
  AccessExclusive: 8,
} as const;
export type LockMode = (typeof LockMode)[keyof typeof LockMode];

/** The SQL name of each level (1 → ACCESS SHARE … 8 → ACCESS EXCLUSIVE). */
export const LOCK_NAMES = Object.fromEntries(TABLE_LOCK_MODES.map((name) => [LOCK_MODE_INFO[name].level, name])) as Record<LockMode, TableLockMode>;

/** What a lock mode makes the application wait for, from the conflict matrix. */
export function lockBlocks(mode: LockMode): string {
  const info = LOCK_MODE_INFO[LOCK_NAMES[mode]];
  if (info.blocksReads) return 'every query on the table, reads included';
  if (info.blocksWrites) return 'INSERT, UPDATE and DELETE (reads continue)';
  if (info.conflicts.includes('SHARE UPDATE EXCLUSIVE')) return 'other schema changes and VACUUM (reads and writes continue)';
  return 'nothing the application usually does';
}

/** Live-catalog facts about one table (schema-aware mode). */
export interface CatalogColumn {
  name: string;
  /** pg_type.typname: int4, varchar, _text (arrays start with "_")… */
  typname: string;
  typmod: number;
  /** format_type(): `character varying(20)` */
  formatted: string;
  notNull: boolean;
}

export interface CatalogTable {
  schema: string;
  name: string;
  /** Estimated rows (pg_class.reltuples, else pg_stat_user_tables.n_live_tup); null when unknown. */
  rows: number | null;
  /** pg_total_relation_size: heap + indexes + TOAST. */
  bytes: number;
  columns: Map<string, CatalogColumn>;
  /** Columns that a validated CHECK (col IS NOT NULL) covers. */
  notNullChecks: Set<string>;
  /** NOT VALID `CHECK (col IS NOT NULL)` constraints: name → column (validating one proves the column). */
  pendingNotNullChecks: Map<string, string>;
}

export interface Catalog {
  serverVersion: number;
  /** Schema used for unqualified names. */
  defaultSchema: string;
  tables: Map<string, CatalogTable>;
  /** "schema.index" → table */
  indexes: Map<string, { schema: string; table: string }>;
  /** Function name (bare and schema-qualified) → most volatile of its overloads. */
  functions: Map<string, Volatility>;
}

/** A lock one statement takes on one relation. */
export interface LockTaken {
  rel: RelName;
  mode: LockMode;
  /** The relation was created earlier in this file (nobody else can be using it). */
  isNew: boolean;
  /** For DROP INDEX: the lock is on the index's table. */
  via?: string;
}

/** What the analyzer knows about a statement before the rules run. */
export interface StatementFacts {
  locks: LockTaken[];
  /** Work proportional to the size of an existing table (rewrite, scan, index build, row writes). */
  work?: { /** "rewrites users", "builds an index on orders"… (built on demand) */ describe(): string; rel?: RelName };
}

/** The file as it is just before the statement: what earlier statements did. */
export interface FileView {
  readonly path: string;
  readonly pgVersion: number;
  readonly inTransaction: boolean;
  /** lock_timeout in force (ms > 0), with the line that set it. */
  readonly lockTimeout: { ms: number; line: number } | undefined;
  /** ACCESS EXCLUSIVE locks on existing tables held by the open transaction. */
  readonly heldAccessExclusive: readonly { rel: RelName; line: number }[];
  readonly catalog: Catalog | undefined;
  /** Created earlier in this file (and not dropped since). */
  isNew(rel: RelName): boolean;
  table(rel: RelName): CatalogTable | undefined;
  /** The table of an index (created earlier in the file, or from the catalog). */
  indexTable(index: RelName): RelName | undefined;
  /** The column's current type: added earlier in the file, or from the catalog. */
  columnType(rel: RelName, column: string): NormalType | undefined;
  /** A validated CHECK (col IS NOT NULL) exists (earlier in the file or in the catalog). */
  notNullProven(rel: RelName, column: string): boolean;
  volatility(nameParts: string[]): Volatility | undefined;
  /** 1-based line of a byte offset. */
  lineOf(byteOffset: number): number;
}

interface StatementBase {
  /** 0-based index of the statement in the file. */
  index: number;
  /** Byte offsets of the statement in the file. */
  start: number;
  end: number;
  /** The statement's SQL. */
  sql: string;
  file: FileView;
  facts: StatementFacts;
}

export type StmtKind = NodeKind;

/** The context a rule's check receives; `kind` narrows `node`. */
export type StatementContext<K extends StmtKind = StmtKind> = {
  [P in K]: StatementBase & { kind: P; node: NodeOf<P> };
}[K];

/** One problem a rule found in a statement. */
export interface Hit {
  /** One line: what this statement does. */
  message: string;
  /** Overrides the rule's `why` (which lock, what it blocks, rewrite or scan). */
  why?: string;
  /** Overrides the rule's safe alternative. */
  safe?: string;
  /** Overrides the Tandem operation. */
  tandem?: string;
  /** Overrides the rule's default severity for this finding (e.g. "may rewrite" → warning). */
  severity?: Severity;
  /** Byte offset of the offending node (default: the statement start). */
  location?: number;
  /** Table concerned, for sizes in schema-aware mode. */
  rel?: RelName;
  /** Lock this statement takes, by its SQL name (checked against the one lock-mode table). */
  lock?: TableLockMode;
}

export interface RuleDocs {
  /** One line, for `--list-rules`. */
  summary: string;
  /** Which lock, what it blocks, rewrite or full scan — or why it breaks the running version. */
  why: string;
  /** The safe way, in SQL terms. */
  safe: string;
  /** The Tandem operation that does it safely. */
  tandem: string;
  /** Minimal examples (the fixtures hold the full set). */
  bad?: string;
  good?: string;
}

export interface Rule<K extends StmtKind = StmtKind> {
  id: string;
  defaultSeverity: Severity;
  docs: RuleDocs;
  /** Statement kinds the rule looks at; '*' for all. */
  on: readonly K[] | '*';
  check(ctx: StatementContext<K>): Hit[] | undefined;
}

/** A finding: a hit, located and explained, ready for any formatter. */
export interface Finding {
  rule: string;
  severity: Severity;
  file: string;
  /** 1-based, in characters. */
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  /** 1-based statement number in the file (0 for file-level findings). */
  statement: number;
  message: string;
  why: string;
  safe: string;
  tandem: string;
  lock?: string;
  table?: { name: string; rows: number | null; bytes: number | null };
  suppressed?: { reason: string; scope: 'statement' | 'file' };
}

export interface FileResult {
  file: string;
  statements: number;
  findings: Finding[];
  /** Set when the file could not be parsed (its only finding is then the syntax error). */
  parseError?: { message: string; line: number; column: number };
  /** Source text, kept for code frames. */
  source: string;
}

export interface LintOptions {
  pgVersion: number;
  /** The file runs inside one transaction (as many migration tools run a file). */
  assumeInTransaction: boolean;
  /** Per-rule level overrides from the config file. */
  levels: Record<string, RuleLevel>;
  catalog?: Catalog;
  /** Schema for unqualified names. */
  defaultSchema: string;
}

export interface LintReport {
  pgVersion: number;
  schemaAware: boolean;
  files: FileResult[];
  /** Counts over unsuppressed findings. */
  errors: number;
  warnings: number;
  suppressed: number;
  parseErrors: number;
  statements: number;
}
