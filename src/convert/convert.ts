import type {
  AlterTableCmd,
  AlterTableStmt,
  ColumnDef,
  CommentStmt,
  Constraint,
  CreateStmt,
  DefElem,
  DropStmt,
  IndexElem,
  IndexStmt,
  Node,
  RangeVar,
  RenameStmt,
  ReplicaIdentityStmt,
  TransactionStmt,
  VariableSetStmt,
} from 'libpg-query';
import type { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { tablesWithTypeChanges, viewRebuildSql } from '../pipeline/view-rebuild.js';
import { type CheckDef, type ColumnDef as ColumnSpec, type ForeignKeyDef, MigrationFile, type operationSchemas, type TableConstraintDef } from '../migration/schema.js';
import { defaultNames, defaultObjectName, sqlName } from './names.js';
import type { ParsedSql, SqlStatement } from './parse.js';
import { splitOperations } from './split.js';
import { squash, TokenView } from './tokens.js';

/**
 * `tandem convert`: SQL DDL → a Tandem (pgroll-format) migration of safe operations.
 *
 * Each statement becomes the operation that does the same change without locking out the
 * application; `up`/`down` are inferred where the SQL says enough (renames, casts for type
 * changes) and left as explicit TODO markers where a human must write them. Statements with no
 * safe equivalent become raw `sql` operations, with a warning.
 */

type Schemas = typeof operationSchemas;
export type OperationName = keyof Schemas;
type Body<K extends OperationName> = z.infer<Schemas[K]>;
export type OperationEntry = { [K in OperationName]: { [P in K]: Body<K> } }[OperationName];
type CreateConstraintBody = Body<'create_constraint'>;

export interface ConvertedMigration {
  name?: string;
  operations: OperationEntry[];
}

export interface SourceRef {
  /** file:line:col */
  where: string;
  line: number;
  col: number;
  /** 0-based index of the statement in the file. */
  statement: number;
}

export interface ConvertWarning extends SourceRef {
  message: string;
  /** Index of the operation the warning is about, if any. */
  operationIndex?: number;
}

/** A place in the output where a human must write SQL: the field holds a marker containing TODO. */
export interface ConvertTodo extends SourceRef {
  operationIndex: number;
  operation: OperationName;
  /** Path inside the operation body, e.g. "up" or "references.columns[0]". */
  field: string;
  /** YAML path from the document root, for comments. */
  path: (string | number)[];
  message: string;
}

export interface DroppedStatement extends SourceRef {
  text: string;
  reason: string;
}

export interface ConvertResult {
  /** Every operation of the file, in order (may mix raw \`sql\` with others: see \`parts\`). */
  migration: ConvertedMigration;
  /** The operations split into migrations that \`tandem start\` accepts, in order (src/convert/split.ts). */
  parts: MigrationPart[];
  /** The tables as the file leaves them: the catalog of the next file of a history. */
  tables: Map<string, TableModel>;
  warnings: ConvertWarning[];
  todos: ConvertTodo[];
  /** Statements that became no operation (BEGIN/COMMIT, SET lock_timeout...). */
  dropped: DroppedStatement[];
}

export interface ColumnModel {
  type: string;
  notNull: boolean;
  default?: string | null;
  /** Filled by the database (identity, serial, generated): Tandem cannot shadow it. */
  generated?: boolean;
  /** A foreign key of another table references it: Tandem cannot shadow it. */
  referenced?: boolean;
  /** Views of the application that use it: Tandem cannot shadow it (complete could not drop it). */
  views?: string[];
}

export interface TableModel {
  columns: Map<string, ColumnModel>;
  primaryKey: string[];
  /** Constraints known so far (name → columns): a drop needs its columns' `down`. */
  constraints?: Map<string, string[]>;
}

export interface ConvertOptions {
  /** The schema the migration targets; other schemas' objects become raw `sql`. Default public. */
  schema?: string;
  /** `name` of the migration; omitted, the file name gives it (pgroll's rule). */
  name?: string;
  /** Tables already in the database (from --database-url), for old types and nullability. */
  catalog?: Map<string, TableModel>;
  /** What the converter cannot know, e.g. "the files before it in the history" (for messages). */
  knownFrom?: string;
}

/** Operations [first, first + operations.length) of the file, as one migration. */
export interface MigrationPart {
  first: number;
  operations: OperationEntry[];
}

/** Serial types: their column is filled from a sequence the table owns. */
const SERIAL_TYPE = /^\s*(small|big)?serial\d?\s*$/i;

export function cloneTables(tables: ReadonlyMap<string, TableModel>): Map<string, TableModel> {
  return new Map(
    [...tables].map(([k, t]) => [
      k,
      {
        primaryKey: [...t.primaryKey],
        columns: new Map([...t.columns].map(([c, m]) => [c, { ...m }])),
        ...(t.constraints ? { constraints: new Map([...t.constraints].map(([n, cols]) => [n, [...cols]])) } : {}),
      },
    ]),
  );
}

/** The markers written where a human must supply SQL. Each contains "TODO". */
export const TODO = {
  addColumnUp: 'TODO: SQL expression for existing rows',
  value: 'TODO',
  oldTypeDown: (col: string) => `TODO: SQL expression converting ${col} back to its old type`,
  dropColumnDown: (col: string) => `TODO: SQL expression for ${col} when the new version writes a row`,
  referencedColumn: 'TODO: referenced column',
} as const;

const TYPE_STOP = new Set([
  'CONSTRAINT',
  'NOT',
  'NULL',
  'DEFAULT',
  'CHECK',
  'PRIMARY',
  'UNIQUE',
  'REFERENCES',
  'GENERATED',
  'COLLATE',
  'USING',
  'DEFERRABLE',
  'INITIALLY',
  'STORAGE',
  'COMPRESSION',
]);
const SESSION_TIMEOUTS = new Set(['lock_timeout', 'statement_timeout', 'idle_in_transaction_session_timeout', 'transaction_timeout']);
const INDEX_METHODS = ['btree', 'hash', 'gist', 'spgist', 'gin', 'brin'] as const;
const FK_ACTIONS: Record<string, ForeignKeyDef['on_delete']> = {
  r: 'RESTRICT',
  c: 'CASCADE',
  n: 'SET NULL',
  d: 'SET DEFAULT',
};

function unwrap<T>(node: Node | undefined, key: string): T | undefined {
  return node ? ((node as Record<string, unknown>)[key] as T | undefined) : undefined;
}

function strings(nodes: Node[] | undefined): string[] {
  return (nodes ?? []).map((n) => unwrap<{ sval?: string }>(n, 'String')?.sval ?? '');
}

/** Column names referenced by an expression (ColumnRef nodes; the last field of each). */
function referencedColumns(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const n of node) referencedColumns(n, out);
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'ColumnRef') {
        const fields = (v as { fields?: Node[] }).fields ?? [];
        const last = unwrap<{ sval?: string }>(fields[fields.length - 1], 'String')?.sval;
        if (last !== undefined && !out.includes(last)) out.push(last);
      } else referencedColumns(v, out);
    }
  }
  return out;
}

/** A statement or subcommand that has no safe operation; the reason goes into the warning. */
class Unsupported extends Error {}

interface ColumnResult {
  column: ColumnSpec;
  /** Constraints that a column cannot carry (named unique, second check...): table-level. */
  extra: TableConstraintDef[];
  /** Name of an explicitly named column PRIMARY KEY (kept as a table constraint). */
  pkName?: string;
  notNull: boolean;
  identity: boolean;
  todos: { field: string; message: string }[];
}

class Converter {
  readonly ops: OperationEntry[] = [];
  readonly warnings: ConvertWarning[] = [];
  readonly todos: ConvertTodo[] = [];
  readonly dropped: DroppedStatement[] = [];
  readonly schema: string;
  /** Tables known so far: from the catalog, then as the file changes them. */
  readonly tables = new Map<string, TableModel>();
  /** create_table operations of this file, by table name (for COMMENT ON). */
  readonly createdHere = new Map<string, number>();
  /** Constraints this file adds (a later VALIDATE CONSTRAINT is then redundant). */
  readonly constraintsHere = new Set<string>();
  /** The primary key of the table being created (for a REFERENCES to itself) and its referenced columns. */
  pendingPk: { table: string; columns: string[]; referenced: Set<string> } | undefined;

  constructor(
    readonly parsed: ParsedSql,
    readonly opts: ConvertOptions,
  ) {
    this.schema = opts.schema ?? 'public';
    for (const [name, t] of cloneTables(opts.catalog ?? new Map())) this.tables.set(name, t);
  }

  ref(stmt: SqlStatement, offset = stmt.start): SourceRef {
    const p = this.parsed.source.position(offset);
    return { where: `${this.parsed.source.file}:${p.line}:${p.col}`, line: p.line, col: p.col, statement: stmt.index };
  }

  warn(stmt: SqlStatement, offset: number, message: string, operationIndex?: number): void {
    this.warnings.push({ ...this.ref(stmt, offset), message, ...(operationIndex !== undefined ? { operationIndex } : {}) });
  }

  push<K extends OperationName>(kind: K, body: Body<K>): number {
    this.ops.push({ [kind]: body } as unknown as OperationEntry);
    return this.ops.length - 1;
  }

  todo(stmt: SqlStatement, offset: number, opIndex: number, field: string, message: string): void {
    const entry = this.ops[opIndex]!;
    const operation = Object.keys(entry)[0] as OperationName;
    const path: (string | number)[] = ['operations', opIndex, operation];
    for (const part of field.split('.')) {
      const m = /^(\w+)\[(\d+)\]$/.exec(part);
      if (m) path.push(m[1]!, Number(m[2]));
      else path.push(part);
    }
    this.todos.push({ ...this.ref(stmt, offset), operationIndex: opIndex, operation, field, path, message });
  }

  /**
   * A raw \`sql\` operation. One that changes column types (\`typeChanged\`: their tables) is wrapped
   * so that it drops and recreates the version views over those tables around it: as written,
   * PostgreSQL would refuse it ("cannot alter type of a column used by a view or rule").
   */
  raw(stmt: SqlStatement, offset: number, text: string, reason: string, typeChanged: readonly string[] = []): void {
    const up = typeChanged.length ? viewRebuildSql(this.schema, typeChanged, text) : text;
    const i = this.push('sql', { up });
    const wrapped = typeChanged.length
      ? ` — wrapped in a DO block that drops and recreates the version views over ${typeChanged.join(', ')} around it (as \`tandem exec\` does): ${squash(text)}`
      : '';
    this.warn(stmt, offset, `kept as a raw \`sql\` operation (runs as written, with the locks it takes): ${reason}${wrapped}`, i);
  }

  drop(stmt: SqlStatement, reason: string, warn: boolean): void {
    this.dropped.push({ ...this.ref(stmt), text: stmt.text, reason });
    if (warn) this.warn(stmt, stmt.start, `dropped: ${reason}`);
  }

  /** The table name within the migration's schema, or undefined for another schema. */
  relName(rv: RangeVar | undefined): string | undefined {
    if (!rv?.relname || rv.catalogname) return undefined;
    if (rv.schemaname !== undefined && rv.schemaname !== this.schema) return undefined;
    return rv.relname;
  }

  requireRel(rv: RangeVar | undefined): string {
    const name = this.relName(rv);
    if (name === undefined) {
      throw new Unsupported(`${rv?.schemaname ?? ''}.${rv?.relname ?? ''} is outside schema "${this.schema}" (the migration's --schema)`);
    }
    if (rv?.relpersistence === 't') throw new Unsupported('temporary tables are not part of a migration');
    return name;
  }

  /** An object name given as a list of strings ([schema,] name) inside the migration's schema. */
  objectName(parts: string[]): string {
    if (parts.length === 1) return parts[0]!;
    if (parts.length === 2 && parts[0] === this.schema) return parts[1]!;
    throw new Unsupported(`${parts.join('.')} is outside schema "${this.schema}"`);
  }

  run(): ConvertResult {
    for (const stmt of this.parsed.statements) {
      const before = this.ops.length;
      const warningsBefore = this.warnings.length;
      const todosBefore = this.todos.length;
      const snapshot = cloneTables(this.tables);
      try {
        this.statement(stmt);
      } catch (err) {
        if (!(err instanceof Unsupported)) throw err;
        // Undo what this statement had produced, and keep it whole as raw SQL.
        this.ops.length = before;
        this.warnings.length = warningsBefore;
        this.todos.length = todosBefore;
        this.tables.clear();
        for (const [k, t] of snapshot) this.tables.set(k, t);
        this.pendingPk = undefined;
        this.raw(stmt, stmt.start, stmt.text, err.message, tablesWithTypeChanges([stmt], this.schema));
      }
      this.trackViews(stmt);
    }
    if (this.ops.length === 0) {
      throw new InvalidInputError('nothing to convert: the file has no schema change (only transaction control or session settings)', { file: this.parsed.source.file });
    }
    const migration: ConvertedMigration = { ...(this.opts.name !== undefined ? { name: this.opts.name } : {}), operations: this.ops };
    const check = MigrationFile.safeParse(migration);
    if (!check.success) {
      throw new Error(`internal error: the converted migration does not validate: ${JSON.stringify(check.error.issues[0])}`);
    }
    const parts = splitOperations(this.ops).map((g) => ({ first: g[0]!, operations: g.map((i) => this.ops[i]!) }));
    return { migration, parts, tables: cloneTables(this.tables), warnings: this.warnings, todos: this.todos, dropped: this.dropped };
  }

  /**
   * Views are raw SQL, but the columns they use cannot go through a shadow column any more (complete
   * could not drop the old one): CREATE [OR REPLACE] VIEW marks them, DROP VIEW clears its marks.
   */
  trackViews(stmt: SqlStatement): void {
    const node = stmt.node as Record<string, unknown>;
    const untrack = (name: string) => {
      for (const t of this.tables.values()) for (const c of t.columns.values()) if (c.views?.includes(name)) c.views = c.views.filter((v) => v !== name);
    };
    const drop = node['DropStmt'] as DropStmt | undefined;
    if (drop && (drop.removeType === 'OBJECT_VIEW' || drop.removeType === 'OBJECT_MATVIEW')) {
      for (const o of drop.objects ?? []) untrack(strings(unwrap<{ items?: Node[] }>(o, 'List')?.items).at(-1) ?? '');
      return;
    }
    const view = node['ViewStmt'] as { view?: RangeVar; query?: Node } | undefined;
    const matview = (node['CreateTableAsStmt'] as { into?: { rel?: RangeVar }; query?: Node } | undefined) ?? undefined;
    const name = view?.view?.relname ?? matview?.into?.rel?.relname;
    const query = view?.query ?? matview?.query;
    if (name === undefined || query === undefined) return;
    untrack(name);
    const tables: string[] = [];
    let star = false;
    const names = new Set<string>();
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) for (const x of n) walk(x);
      else if (n && typeof n === 'object') {
        for (const [k, v] of Object.entries(n)) {
          if (k === 'RangeVar') {
            const t = this.relName(v as RangeVar);
            if (t !== undefined) tables.push(t);
          } else if (k === 'A_Star') star = true;
          else if (k === 'ColumnRef') for (const f of strings((v as { fields?: Node[] }).fields)) names.add(f);
          walk(v);
        }
      }
    };
    walk(query);
    for (const t of tables) {
      for (const [col, m] of this.tables.get(t)?.columns ?? []) if (star || names.has(col)) m.views = [...(m.views ?? []), name];
    }
  }

  statement(stmt: SqlStatement): void {
    const node = stmt.node as Record<string, unknown>;
    switch (stmt.kind) {
      case 'CreateStmt':
        return this.createTable(stmt, node['CreateStmt'] as CreateStmt);
      case 'AlterTableStmt':
        return this.alterTable(stmt, node['AlterTableStmt'] as AlterTableStmt);
      case 'IndexStmt':
        return this.createIndex(stmt, node['IndexStmt'] as IndexStmt);
      case 'DropStmt':
        return this.dropStmt(stmt, node['DropStmt'] as DropStmt);
      case 'RenameStmt':
        return this.rename(stmt, node['RenameStmt'] as RenameStmt);
      case 'CommentStmt':
        return this.comment(stmt, node['CommentStmt'] as CommentStmt);
      case 'TransactionStmt': {
        const kind = (node['TransactionStmt'] as TransactionStmt).kind;
        if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START' || kind === 'TRANS_STMT_COMMIT') {
          return this.drop(stmt, 'transaction control: Tandem runs each step in its own transaction', false);
        }
        return this.drop(stmt, `${stmt.text}: transaction control has no place in a migration`, true);
      }
      case 'VariableSetStmt': {
        const v = node['VariableSetStmt'] as VariableSetStmt;
        if (v.name && SESSION_TIMEOUTS.has(v.name)) return this.drop(stmt, `${v.name}: Tandem sets its own (--lock-timeout)`, false);
        return this.drop(stmt, `session setting "${stmt.text}": Tandem runs operations in its own sessions`, true);
      }
      case 'UpdateStmt':
      case 'InsertStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return this.raw(
          stmt,
          stmt.start,
          stmt.text,
          'a data change runs in one transaction and locks every row it touches; a backfill belongs in the `up` of add_column/alter_column, which Tandem runs in short batches',
        );
      default:
        return this.raw(stmt, stmt.start, stmt.text, `no Tandem operation for ${describe(stmt)}`);
    }
  }

  // ---------------------------------------------------------------- CREATE TABLE

  createTable(stmt: SqlStatement, s: CreateStmt): void {
    const table = this.requireRel(s.relation);
    if (s.relation?.relpersistence === 'u') throw new Unsupported('UNLOGGED tables have no create_table equivalent');
    if (s.inhRelations?.length) throw new Unsupported('INHERITS has no create_table equivalent');
    if (s.partspec || s.partbound) throw new Unsupported('partitioned tables and partitions have no create_table equivalent');
    if (s.ofTypename) throw new Unsupported('CREATE TABLE OF type has no create_table equivalent');
    if (s.options?.length || s.tablespacename || s.accessMethod) {
      throw new Unsupported('storage options (WITH, TABLESPACE, USING) have no create_table equivalent');
    }
    if (!(s.tableElts ?? []).some((e) => unwrap<ColumnDef>(e, 'ColumnDef'))) throw new Unsupported('a table without columns');
    const view = TokenView.of(this.parsed.source, stmt.start, stmt.end);
    const columns: ColumnSpec[] = [];
    const constraints: TableConstraintDef[] = [];
    const colTodos: { field: string; message: string; offset: number }[] = [];
    const pkColumns: string[] = [];
    const notNull = new Set<string>();
    const generated = new Set<string>();
    this.pendingPk = { table, columns: declaredPrimaryKey(s), referenced: new Set() };
    for (const elt of s.tableElts ?? []) {
      const def = unwrap<ColumnDef>(elt, 'ColumnDef');
      const con = unwrap<Constraint>(elt, 'Constraint');
      if (def) {
        const r = this.column(def, table, view);
        if (r.pkName !== undefined) constraints.push({ name: r.pkName, type: 'primary_key', columns: [r.column.name] });
        constraints.push(...r.extra);
        if (r.column.pk) pkColumns.push(r.column.name);
        if (r.notNull || r.identity) notNull.add(r.column.name);
        if (r.identity || r.column.generated !== undefined || SERIAL_TYPE.test(r.column.type)) generated.add(r.column.name);
        for (const t of r.todos) colTodos.push({ field: `columns[${columns.length}].${t.field}`, message: t.message, offset: def.location ?? stmt.start });
        columns.push(r.column);
      } else if (con) {
        const c = this.tableConstraint(con, table, view, true);
        if (c.type === 'primary_key' && c.name === defaultNames.primaryKey(table) && !c.index_parameters && !c.deferrable) {
          pkColumns.push(...(c.columns ?? []));
          for (const col of columns) if (c.columns?.includes(col.name)) col.pk = true;
        } else {
          this.constraintTodos(c, (field, message) => colTodos.push({ field: `constraints[${constraints.length}].${field}`, message, offset: con.location ?? stmt.start }));
          constraints.push(c);
        }
      } else {
        throw new Unsupported('LIKE clauses have no create_table equivalent');
      }
    }
    // Primary key columns are NOT NULL: no `nullable` on them (a table-level PRIMARY KEY comes after them).
    const pkSet = new Set([...pkColumns, ...constraints.filter((c) => c.type === 'primary_key').flatMap((c) => c.columns ?? [])]);
    for (const [k, col] of columns.entries()) {
      if (pkSet.has(col.name)) delete col.nullable;
      columns[k] = ordered(col, COLUMN_KEYS);
    }
    if (s.if_not_exists) this.warn(stmt, stmt.start, 'IF NOT EXISTS dropped: create_table fails if the table exists');
    const body: Body<'create_table'> = { name: table, columns, ...(constraints.length ? { constraints } : {}) };
    const i = this.push('create_table', body);
    for (const t of colTodos) this.todo(stmt, t.offset, i, t.field, t.message);
    this.createdHere.set(table, i);
    for (const c of constraints) this.constraintsHere.add(`${table}.${c.name}`);
    const referenced = this.pendingPk.referenced;
    this.pendingPk = undefined;
    this.tables.set(table, {
      primaryKey: [...pkSet],
      constraints: createdConstraints(table, body),
      columns: new Map(
        columns.map((c) => [
          c.name,
          {
            type: c.type,
            notNull: pkSet.has(c.name) || notNull.has(c.name),
            ...(c.default !== undefined ? { default: c.default } : {}),
            ...(generated.has(c.name) ? { generated: true } : {}),
            ...(referenced.has(c.name) ? { referenced: true } : {}),
          },
        ]),
      ),
    });
  }

  /**
   * The primary key a `REFERENCES t` without columns means: t's, known from a CREATE TABLE seen
   * earlier (in this file, an earlier file of the history, or the catalog). Unknown, it is an
   * error that says where and what to write, never a guess.
   */
  referencedKey(target: string, count: number, location: number | undefined): string[] {
    const pk = this.pendingPk?.table === target ? this.pendingPk.columns : this.tables.get(target)?.primaryKey;
    const where = this.parsed.source.position(location ?? 0);
    const loc = { file: this.parsed.source.file, line: where.line, column: where.col };
    const how = `write the referenced column${count === 1 ? '' : 's'}: REFERENCES ${target} (<column>${count === 1 ? '' : ', …'})`;
    if (!pk) {
      throw new InvalidInputError(
        `REFERENCES ${target} names no column, and the primary key of "${target}" is not known ${this.opts.knownFrom ?? 'here'}`,
        loc,
        `${how}; or convert the whole history (\`tandem convert <dir> -o <dir>\`) so that the CREATE TABLE of ${target} comes first; or pass --database-url to read it from the database`,
        { code: 'referenced-table-not-found' },
      );
    }
    if (pk.length !== count) {
      throw new InvalidInputError(
        `REFERENCES ${target} names no column, and the primary key of "${target}" has ${pk.length === 0 ? 'no column (the table has none)' : `${pk.length} columns, not ${count}`}`,
        loc,
        how,
        { code: 'referenced-key-not-unique' },
      );
    }
    return [...pk];
  }

  /** Columns a foreign key references cannot go through a shadow column any more. */
  markReferenced(table: string, columns: readonly string[]): void {
    const model = this.pendingPk?.table === table ? undefined : this.tables.get(table);
    for (const c of columns) {
      const m = model?.columns.get(c);
      if (m) m.referenced = true;
      else if (this.pendingPk?.table === table) this.pendingPk.referenced.add(c);
    }
  }

  /** TODO markers inside a table constraint (an unknown referenced column). */
  constraintTodos(c: TableConstraintDef, add: (field: string, message: string) => void): void {
    c.references?.columns.forEach((col, k) => {
      if (col === TODO.referencedColumn) add(`references.columns[${k}]`, `name the column of ${c.references!.table} that ${c.name} references`);
    });
  }

  /** A column definition (CREATE TABLE element or ADD COLUMN). */
  column(def: ColumnDef, table: string, view: TokenView, endIdx = view.toks.length): ColumnResult {
    const name = def.colname!;
    const cons = (def.constraints ?? []).map((n) => unwrap<Constraint>(n, 'Constraint')!).filter(Boolean);
    const boundaries = [...cons.map((c) => c.location ?? Infinity), def.collClause?.location ?? Infinity].sort((a, b) => a - b);
    const typeStart = view.at(def.typeName?.location ?? 0);
    const [a, b] = view.extent(typeStart, { stop: TYPE_STOP, boundary: boundaries[0]!, end: endIdx });
    let type = squash(view.text(a, b));
    if (!type) throw new Unsupported(`cannot read the type of column ${name}`);
    if (def.collClause?.collname) type += ` COLLATE ${collation(def.collClause.collname)}`;
    const column: ColumnSpec = { name, type };
    const result: ColumnResult = { column, extra: [], notNull: false, identity: false, todos: [] };
    let explicitNull = false;
    let pk = false;
    // The constraint that DEFERRABLE / INITIALLY DEFERRED attach to.
    let last: { deferrable?: boolean | undefined; initially_deferred?: boolean | undefined } | undefined;
    for (const c of cons) {
      const nextBoundary = boundaries.find((x) => x > (c.location ?? 0));
      const start = view.at(c.location ?? 0);
      switch (c.contype) {
        case 'CONSTR_NOTNULL':
          result.notNull = true;
          break;
        case 'CONSTR_NULL':
          explicitNull = true;
          break;
        case 'CONSTR_DEFAULT': {
          const kw = view.findTop(start, (t) => t.keyword === 'DEFAULT', endIdx);
          const [x, y] = view.extent(kw + 1, { ...(nextBoundary !== undefined ? { boundary: nextBoundary } : {}), end: endIdx });
          column.default = view.text(x, y);
          break;
        }
        case 'CONSTR_PRIMARY':
          pk = true;
          if (c.conname !== undefined && c.conname !== defaultNames.primaryKey(table)) result.pkName = c.conname;
          if (c.including?.length || c.options?.length || c.indexspace) throw new Unsupported(`index parameters of the primary key of ${name}`);
          last = undefined;
          break;
        case 'CONSTR_UNIQUE': {
          const defaultName = defaultNames.unique(table, [name]);
          if ((c.conname !== undefined && c.conname !== defaultName) || c.nulls_not_distinct || c.including?.length || c.options?.length) {
            const u: TableConstraintDef = { name: c.conname ?? defaultName, type: 'unique', columns: [name], ...this.indexParameters(c, view, start, endIdx) };
            if (c.nulls_not_distinct) u.nulls_not_distinct = true;
            result.extra.push(u);
            last = u;
          } else {
            column.unique = true;
            last = undefined;
          }
          break;
        }
        case 'CONSTR_CHECK': {
          const expr = this.checkExpression(view, start, endIdx);
          const check: CheckDef = { name: c.conname ?? defaultNames.check(table, referencedColumns(c.raw_expr)), constraint: expr };
          if (c.is_no_inherit) check.no_inherit = true;
          if (column.check === undefined) column.check = check;
          else result.extra.push({ name: check.name, type: 'check', check: expr, ...(check.no_inherit ? { no_inherit: true } : {}) });
          last = undefined;
          break;
        }
        case 'CONSTR_FOREIGN': {
          const target = this.relName(c.pktable);
          if (target === undefined) throw new Unsupported(`column ${name} references a table outside schema "${this.schema}"`);
          const refCols = strings(c.pk_attrs);
          const refCol = refCols[0] ?? this.referencedKey(target, 1, c.location ?? def.location)[0]!;
          this.markReferenced(target, [refCol]);
          const ref: ForeignKeyDef = { name: c.conname ?? defaultNames.foreignKey(table, [name]), table: target, column: refCol };
          Object.assign(ref, fkActions(c));
          if (c.fk_matchtype === 'f') ref.match_type = 'FULL';
          if (c.fk_matchtype === 'p') throw new Unsupported('MATCH PARTIAL on a column reference');
          if (c.deferrable) ref.deferrable = true;
          if (c.initdeferred) ref.initially_deferred = true;
          if (column.references === undefined) {
            column.references = ref;
            last = ref;
          } else throw new Unsupported(`column ${name} has two REFERENCES`);
          break;
        }
        case 'CONSTR_GENERATED': {
          if (c.generated_kind === 'v') throw new Unsupported(`VIRTUAL generated column ${name} (create_table makes STORED ones)`);
          const kw = view.findTop(start, (t) => t.keyword === 'AS', endIdx);
          const expr = view.insideParens(kw + 1);
          if (kw < 0 || expr === undefined) throw new Unsupported(`cannot read the generated expression of ${name}`);
          column.generated = { expression: expr };
          break;
        }
        case 'CONSTR_IDENTITY': {
          result.identity = true;
          const kw = view.findTop(start, (t) => t.keyword === 'IDENTITY', endIdx);
          const opts = kw >= 0 && view.toks[kw + 1]?.text === '(' ? view.insideParens(kw + 1) : undefined;
          column.generated = {
            identity: { user_specified_values: c.generated_when === 'a' ? 'ALWAYS' : 'BY DEFAULT', ...(opts ? { sequence_options: squash(opts) } : {}) },
          };
          break;
        }
        case 'CONSTR_ATTR_DEFERRABLE':
          if (last) last.deferrable = true;
          break;
        case 'CONSTR_ATTR_DEFERRED':
          if (last) {
            last.deferrable = true;
            last.initially_deferred = true;
          }
          break;
        case 'CONSTR_ATTR_NOT_DEFERRABLE':
        case 'CONSTR_ATTR_IMMEDIATE':
        case 'CONSTR_ATTR_ENFORCED':
          break;
        default:
          throw new Unsupported(`column constraint ${String(c.contype).replace('CONSTR_', '')} on ${name}`);
      }
    }
    if (def.storage_name || def.compression) throw new Unsupported(`STORAGE/COMPRESSION of column ${name}`);
    if (pk && result.pkName === undefined) column.pk = true;
    if (!pk && !result.notNull && !result.identity) column.nullable = true;
    if (explicitNull && result.notNull) throw new Unsupported(`column ${name} is both NULL and NOT NULL`);
    result.column = ordered(column, COLUMN_KEYS);
    return result;
  }

  /** The expression of CHECK (...) for a constraint starting at token `start`. */
  checkExpression(view: TokenView, start: number, endIdx: number): string {
    const kw = view.findTop(start, (t) => t.keyword === 'CHECK', endIdx);
    const expr = kw >= 0 ? view.insideParens(kw + 1) : undefined;
    if (expr === undefined) throw new Unsupported('cannot read a CHECK expression');
    return expr;
  }

  /** INCLUDE (...) and WITH (...) of a unique or primary key constraint. */
  indexParameters(c: Constraint, view: TokenView, start: number, endIdx: number): Pick<TableConstraintDef, 'index_parameters'> {
    const p: NonNullable<TableConstraintDef['index_parameters']> = {};
    if (c.including?.length) p.include_columns = strings(c.including);
    if (c.options?.length) {
      const kw = view.findTop(start + 1, (t) => t.keyword === 'WITH', endIdx);
      const inner = kw >= 0 ? view.insideParens(kw + 1) : undefined;
      if (inner === undefined) throw new Unsupported('cannot read the WITH (...) of a constraint');
      p.storage_parameters = squash(inner);
    }
    if (c.indexspace) p.tablespace = c.indexspace;
    return Object.keys(p).length ? { index_parameters: p } : {};
  }

  /** A table-level constraint (CREATE TABLE element or ALTER TABLE ADD CONSTRAINT). */
  tableConstraint(c: Constraint, table: string, view: TokenView, inCreateTable: boolean, endIdx = view.toks.length): TableConstraintDef {
    const start = view.at(c.location ?? 0);
    if (c.is_enforced === false) throw new Unsupported('NOT ENFORCED constraints');
    if (c.indexname) throw new Unsupported(`${c.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX (a short ACCESS EXCLUSIVE lock, no scan: safe as written)`);
    let def: TableConstraintDef;
    switch (c.contype) {
      case 'CONSTR_PRIMARY': {
        const columns = strings(c.keys);
        def = { name: c.conname ?? defaultNames.primaryKey(table), type: 'primary_key', columns, ...this.indexParameters(c, view, start, endIdx) };
        break;
      }
      case 'CONSTR_UNIQUE': {
        const columns = strings(c.keys);
        def = { name: c.conname ?? defaultNames.unique(table, columns), type: 'unique', columns, ...this.indexParameters(c, view, start, endIdx) };
        if (c.nulls_not_distinct) def.nulls_not_distinct = true;
        break;
      }
      case 'CONSTR_CHECK': {
        const check = this.checkExpression(view, start, endIdx);
        const columns = referencedColumns(c.raw_expr);
        def = { name: c.conname ?? defaultNames.check(table, columns), type: 'check', check, ...(columns.length ? { columns } : {}) };
        if (c.is_no_inherit) def.no_inherit = true;
        break;
      }
      case 'CONSTR_FOREIGN': {
        const columns = strings(c.fk_attrs);
        const target = this.relName(c.pktable);
        if (target === undefined) throw new Unsupported(`a foreign key to a table outside schema "${this.schema}"`);
        let refCols = strings(c.pk_attrs);
        if (!refCols.length) refCols = this.referencedKey(target, columns.length, c.location);
        this.markReferenced(target, refCols);
        const references: NonNullable<TableConstraintDef['references']> = { table: target, columns: refCols, ...fkActions(c) };
        if (c.fk_matchtype === 'f') references.match_type = 'FULL';
        if (c.fk_matchtype === 'p') references.match_type = 'PARTIAL';
        if (c.fk_del_set_cols?.length) references.on_delete_set_columns = strings(c.fk_del_set_cols);
        def = { name: c.conname ?? defaultNames.foreignKey(table, columns), type: 'foreign_key', columns, references };
        break;
      }
      case 'CONSTR_EXCLUSION': {
        if (!inCreateTable) throw new Unsupported('EXCLUDE constraints have no create_constraint equivalent');
        const kw = view.findTop(start, (t) => t.keyword === 'EXCLUDE', endIdx);
        let k = kw + 1;
        if (view.isKeyword(k, 'USING')) k += 2;
        const elements = view.insideParens(k);
        if (kw < 0 || elements === undefined) throw new Unsupported('cannot read an EXCLUDE constraint');
        const exclude: NonNullable<TableConstraintDef['exclude']> = { elements: squash(elements) };
        if (c.access_method) exclude.index_method = c.access_method;
        if (c.where_clause) {
          const w = view.findTop(k, (t) => t.keyword === 'WHERE', endIdx);
          const pred = w >= 0 ? view.insideParens(w + 1) : undefined;
          if (pred === undefined) throw new Unsupported('cannot read the WHERE of an EXCLUDE constraint');
          exclude.predicate = pred;
        }
        const elementNames = (c.exclusions ?? []).map((x) => {
          const first = unwrap<{ items?: Node[] }>(x, 'List')?.items?.[0];
          return unwrap<IndexElem>(first, 'IndexElem')?.name ?? 'expr';
        });
        def = { name: c.conname ?? defaultObjectName(table, elementNames.join('_'), 'excl'), type: 'exclude', exclude, ...this.indexParameters(c, view, start, endIdx) };
        break;
      }
      default:
        throw new Unsupported(`${String(c.contype).replace('CONSTR_', '')} constraints`);
    }
    if (c.deferrable) def.deferrable = true;
    if (c.initdeferred) def.initially_deferred = true;
    return def;
  }

  // ---------------------------------------------------------------- ALTER TABLE

  alterTable(stmt: SqlStatement, s: AlterTableStmt): void {
    if (s.objtype !== 'OBJECT_TABLE') throw new Unsupported(`no Tandem operation for ${describe(stmt)}`);
    const table = this.requireRel(s.relation);
    const view = TokenView.of(this.parsed.source, stmt.start, stmt.end);
    const relIdx = view.at(s.relation?.location ?? 0);
    const actionsStart = view.skipQualifiedName(relIdx);
    const actions = view.splitTop(actionsStart);
    const cmds = (s.cmds ?? []).map((n) => unwrap<AlterTableCmd>(n, 'AlterTableCmd')!);
    if (actions.length !== cmds.length) throw new Unsupported('cannot split this ALTER TABLE into its subcommands');
    const prefix = view.text(0, actionsStart - 1);
    if (s.missing_ok) this.warn(stmt, stmt.start, 'IF EXISTS dropped: the operations fail if the table does not exist');
    cmds.forEach((cmd, k) => {
      const [a, b] = actions[k]!;
      const at = view.toks[a]!.start;
      const [ops, warnings, todos] = [this.ops.length, this.warnings.length, this.todos.length];
      try {
        this.alterCmd(stmt, table, cmd, view, a, b);
      } catch (err) {
        if (!(err instanceof Unsupported)) throw err;
        // Nothing of this subcommand stays but the raw SQL.
        this.ops.length = ops;
        this.warnings.length = warnings;
        this.todos.length = todos;
        this.raw(stmt, at, `${prefix} ${view.text(a, b)}`, err.message, cmd.subtype === 'AT_AlterColumnType' ? [table] : []);
      }
    });
  }

  alterCmd(stmt: SqlStatement, table: string, cmd: AlterTableCmd, view: TokenView, a: number, b: number): void {
    const at = view.toks[a]!.start;
    const end = b + 1;
    const model = this.tables.get(table);
    const col = cmd.name ?? '';
    const colModel = model?.columns.get(col);
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        const def = unwrap<ColumnDef>(cmd.def, 'ColumnDef')!;
        const r = this.column(def, table, view, end);
        if (r.pkName !== undefined || r.column.pk) throw new Unsupported('ADD COLUMN ... PRIMARY KEY (add_column cannot add a key to an existing table)');
        if (r.identity || r.column.generated !== undefined || SERIAL_TYPE.test(r.column.type)) {
          throw new Unsupported('an identity, serial or generated column added to an existing table (add_column refuses it: PostgreSQL rewrites the table)');
        }
        if (r.column.unique) {
          // add_column cannot make the column unique on an existing table: a create_constraint after it does.
          delete r.column.unique;
          r.extra.unshift({ name: defaultNames.unique(table, [r.column.name]), type: 'unique', columns: [r.column.name] });
        }
        const body: Body<'add_column'> = { table, column: r.column };
        const needsUp = r.notNull && !r.identity && r.column.default === undefined && r.column.generated === undefined;
        if (needsUp) body.up = TODO.addColumnUp;
        const i = this.push('add_column', body);
        for (const t of r.todos) this.todo(stmt, at, i, `column.${t.field}`, t.message);
        if (needsUp) {
          this.todo(
            stmt,
            at,
            i,
            'up',
            `${table}.${r.column.name} is NOT NULL without a default: write the SQL expression that fills it for existing rows (and for rows the old version writes)`,
          );
        }
        if (cmd.missing_ok) this.warn(stmt, at, 'IF NOT EXISTS dropped: add_column fails if the column exists', i);
        for (const extra of r.extra) this.createConstraint(stmt, at, table, extra);
        for (const [name, cols] of columnConstraints(table, r.column)) model?.constraints?.set(name, cols);
        model?.columns.set(r.column.name, {
          type: r.column.type,
          notNull: r.notNull || r.identity || Boolean(r.column.pk),
          ...(r.column.default !== undefined ? { default: r.column.default } : {}),
        });
        return;
      }
      case 'AT_DropColumn': {
        const body: Body<'drop_column'> = { table, column: col };
        const needsDown = colModel?.notNull === true && (colModel.default === undefined || colModel.default === null);
        if (needsDown) body.down = TODO.dropColumnDown(sqlName(col));
        const i = this.push('drop_column', body);
        if (needsDown) {
          this.todo(stmt, at, i, 'down', `${table}.${col} is NOT NULL without a default: write the value the old version sees when the new version inserts a row`);
        } else if (!colModel) {
          this.warn(stmt, at, `${table}.${col}: its definition is not known here (pass --database-url to read it); if it is NOT NULL without a default, add a \`down\``, i);
        }
        if (cmd.behavior === 'DROP_CASCADE') this.warn(stmt, at, 'CASCADE dropped: objects that depend on the column make the operation fail', i);
        if (cmd.missing_ok) this.warn(stmt, at, 'IF EXISTS dropped: drop_column fails if the column does not exist', i);
        model?.columns.delete(col);
        return;
      }
      case 'AT_AlterColumnType': {
        this.requireShadowable(table, col, model);
        const def = unwrap<ColumnDef>(cmd.def, 'ColumnDef')!;
        const typeStart = view.at(def.typeName?.location ?? 0);
        const [x, y] = view.extent(typeStart, { stop: TYPE_STOP, end });
        let type = squash(view.text(x, y));
        if (def.collClause?.collname) type += ` COLLATE ${collation(def.collClause.collname)}`;
        const name = sqlName(col);
        let up = `CAST(${name} AS ${type})`;
        if (def.raw_default) {
          const u = view.findTop(a, (t) => t.keyword === 'USING', end);
          if (u < 0) throw new Unsupported('cannot read the USING expression');
          up = view.text(u + 1, b);
        }
        const body: Body<'alter_column'> = { table, column: col, type, up, down: colModel ? `CAST(${name} AS ${colModel.type})` : TODO.oldTypeDown(name) };
        // The same default, restated: PostgreSQL's ALTER TYPE converts it to the new type, and so it
        // reads back as it would have been written for that type (not as a cast of the old one).
        if (colModel?.default !== undefined && colModel.default !== null) body.default = colModel.default;
        const i = this.push('alter_column', body);
        if (!colModel) {
          this.todo(
            stmt,
            at,
            i,
            'down',
            `the old type of ${table}.${col} is not known here (no CREATE TABLE earlier in the file; pass --database-url to read it): write the SQL expression that converts the new value back`,
          );
        }
        if (colModel) colModel.type = type;
        return;
      }
      case 'AT_SetNotNull': {
        this.requireShadowable(table, col, model);
        if (colModel?.notNull) {
          this.dropped.push({ ...this.ref(stmt, at), text: view.text(a, b), reason: `${table}.${col} is NOT NULL already (PostgreSQL does nothing)` });
          return;
        }
        const known = colModel?.default;
        const i = this.push('alter_column', { table, column: col, nullable: false, up: `COALESCE(${sqlName(col)}, ${known ?? TODO.value})` });
        if (known === undefined || known === null) this.todo(stmt, at, i, 'up', `replace TODO with the value existing rows get where ${table}.${col} is NULL`);
        else this.warn(stmt, at, `up: rows where ${table}.${col} is NULL get its default (${known}); edit \`up\` if they need another value`, i);
        if (colModel) colModel.notNull = true;
        return;
      }
      case 'AT_DropNotNull': {
        this.requireShadowable(table, col, model);
        if (colModel && !colModel.notNull) {
          this.dropped.push({ ...this.ref(stmt, at), text: view.text(a, b), reason: `${table}.${col} is nullable already (PostgreSQL does nothing)` });
          return;
        }
        const known = colModel?.default;
        const body: Body<'alter_column'> = { table, column: col, nullable: true, down: `COALESCE(${sqlName(col)}, ${known ?? TODO.value})` };
        const i = this.push('alter_column', body);
        if (known === undefined || known === null) {
          this.todo(stmt, at, i, 'down', `replace TODO with the value the old version sees when the new version writes NULL into ${table}.${col}`);
        }
        if (colModel) colModel.notNull = false;
        return;
      }
      case 'AT_ColumnDefault': {
        this.requireShadowable(table, col, model);
        let value: string | null = null;
        if (cmd.def) {
          const kw = view.findTop(a, (t) => t.keyword === 'DEFAULT', end);
          if (kw < 0) throw new Unsupported('cannot read the default expression');
          value = view.text(kw + 1, b);
        }
        this.push('alter_column', { table, column: col, default: value });
        if (colModel) colModel.default = value;
        return;
      }
      case 'AT_AddConstraint': {
        const c = unwrap<Constraint>(cmd.def, 'Constraint')!;
        // NOT VALID is dropped: Tandem adds constraints NOT VALID and validates them itself.
        this.createConstraint(stmt, at, table, this.tableConstraint(c, table, view, false, end));
        return;
      }
      case 'AT_DropConstraint': {
        const i = this.dropConstraint(stmt, at, table, col, model);
        if (cmd.behavior === 'DROP_CASCADE') this.warn(stmt, at, 'CASCADE dropped: objects that depend on the constraint make the operation fail', i);
        if (cmd.missing_ok) this.warn(stmt, at, 'IF EXISTS dropped: drop_constraint fails if the constraint does not exist', i);
        this.constraintsHere.delete(`${table}.${col}`);
        model?.constraints?.delete(col);
        return;
      }
      case 'AT_ValidateConstraint': {
        if (this.constraintsHere.has(`${table}.${col}`)) {
          this.dropped.push({ ...this.ref(stmt, at), text: view.text(a, b), reason: 'Tandem validates the constraints it adds' });
          return;
        }
        throw new Unsupported('VALIDATE CONSTRAINT of a constraint not added in this file (SHARE UPDATE EXCLUSIVE: reads and writes continue)');
      }
      case 'AT_ReplicaIdentity': {
        const r = unwrap<ReplicaIdentityStmt>(cmd.def, 'ReplicaIdentityStmt')!;
        const type = { d: 'default', f: 'full', n: 'nothing', i: 'index' }[r.identity_type ?? 'd'] ?? 'default';
        this.push('set_replica_identity', { table, identity: { type, index: r.name ?? '' } });
        return;
      }
      default:
        throw new Unsupported(`no Tandem operation for ALTER TABLE ... ${abbreviate(squash(view.text(a, b)))}`);
    }
  }

  /**
   * drop_constraint: the new version writes shadow copies of the constraint's columns without it,
   * and \`down\` maps them back into the old, still constrained columns. Converting, the values are
   * copied unchanged (a row the new version writes that breaks the constraint fails in the old
   * version's column: edit \`down\` if that can happen). Columns that cannot be shadowed (a key,
   * identity, referenced column) keep the statement as raw SQL.
   */
  dropConstraint(stmt: SqlStatement, at: number, table: string, name: string, model: TableModel | undefined): number {
    const cols = model?.constraints?.get(name);
    if (!cols) {
      const i = this.push('drop_constraint', { table, name, down: TODO.value });
      this.todo(
        stmt,
        at,
        i,
        'down',
        `the columns of ${table}.${name} are not known here: write \`down\`, the value the old version's column gets (it keeps the constraint), or use drop_multicolumn_constraint`,
      );
      return i;
    }
    for (const c of cols) this.requireShadowable(table, c, model);
    const note = `down copies the values unchanged: a row the new version writes that breaks ${name} fails in the old version's columns (edit \`down\` if it can)`;
    if (cols.length === 1) {
      const i = this.push('drop_constraint', { table, name, down: sqlName(cols[0]!) });
      this.warn(stmt, at, note, i);
      return i;
    }
    const i = this.push('drop_multicolumn_constraint', { table, name, down: Object.fromEntries(cols.map((c) => [c, sqlName(c)])) });
    this.warn(stmt, at, note, i);
    return i;
  }

  /** alter_column, create_constraint and drop_constraint work on a shadow copy of the column: some columns cannot have one. */
  requireShadowable(table: string, col: string, model: TableModel | undefined): void {
    const m = model?.columns.get(col);
    const why = m && unshadowableReason(m, model!.primaryKey.includes(col));
    if (why) throw new Unsupported(`${table}.${col} ${why}: Tandem changes a column through a shadow copy of it, which this column cannot have`);
  }

  createConstraint(stmt: SqlStatement, at: number, table: string, def: TableConstraintDef): void {
    for (const c of def.columns ?? []) this.requireShadowable(table, c, this.tables.get(table));
    if (def.type === 'exclude') throw new Unsupported('EXCLUDE constraints have no create_constraint equivalent');
    if (def.deferrable || def.initially_deferred) throw new Unsupported('DEFERRABLE constraints have no create_constraint equivalent');
    if (def.nulls_not_distinct) throw new Unsupported('UNIQUE NULLS NOT DISTINCT has no create_constraint equivalent');
    const columns = def.columns ?? [];
    const body: CreateConstraintBody = { table, name: def.name, type: def.type, columns };
    if (def.check !== undefined) body.check = def.check;
    if (def.no_inherit) body.no_inherit = true;
    if (def.index_parameters) body.index_parameters = def.index_parameters;
    if (def.references) body.references = def.references;
    if (columns.length) {
      // Values are copied unchanged: existing rows must already satisfy the constraint.
      body.up = Object.fromEntries(columns.map((c) => [c, sqlName(c)]));
      body.down = Object.fromEntries(columns.map((c) => [c, sqlName(c)]));
    }
    if (!columns.length && def.type === 'check') throw new Unsupported('a CHECK constraint that references no column');
    const i = this.push('create_constraint', body);
    this.constraintTodos(def, (field, message) => this.todo(stmt, at, i, field, message));
    this.constraintsHere.add(`${table}.${def.name}`);
    this.tables.get(table)?.constraints?.set(def.name, [...columns]);
  }

  // ---------------------------------------------------------------- indexes, drops, renames, comments

  createIndex(stmt: SqlStatement, s: IndexStmt): void {
    const table = this.requireRel(s.relation);
    if (!s.relation?.inh) throw new Unsupported('CREATE INDEX ON ONLY (a partitioned table) has no create_index equivalent');
    const elems = (s.indexParams ?? []).map((n) => unwrap<IndexElem>(n, 'IndexElem')!);
    if (elems.some((e) => e.expr !== undefined || e.name === undefined)) throw new Unsupported('expression indexes have no create_index equivalent');
    if (s.indexIncludingParams?.length) throw new Unsupported('INCLUDE columns have no create_index equivalent');
    if (s.nulls_not_distinct) throw new Unsupported('NULLS NOT DISTINCT has no create_index equivalent');
    if (s.tableSpace) throw new Unsupported('TABLESPACE has no create_index equivalent');
    const method = (s.accessMethod ?? 'btree') as (typeof INDEX_METHODS)[number];
    if (!INDEX_METHODS.includes(method)) throw new Unsupported(`index method ${method} is not one of ${INDEX_METHODS.join(', ')}`);
    const view = TokenView.of(this.parsed.source, stmt.start, stmt.end);
    const columns = elems.map((e) => {
      const f: Body<'create_index'>['columns'][number] = { column: e.name! };
      if (e.ordering === 'SORTBY_ASC') f.sort = 'ASC';
      if (e.ordering === 'SORTBY_DESC') f.sort = 'DESC';
      if (e.ordering === 'SORTBY_USING') throw new Unsupported('ORDER BY USING in an index');
      if (e.nulls_ordering === 'SORTBY_NULLS_FIRST') f.nulls = 'FIRST';
      if (e.nulls_ordering === 'SORTBY_NULLS_LAST') f.nulls = 'LAST';
      if (e.collation?.length) f.collate = strings(e.collation).join('.');
      if (e.opclass?.length) {
        f.opclass = { name: strings(e.opclass).join('.') };
        if (e.opclassopts?.length) f.opclass.params = e.opclassopts.map((o) => defElemText(unwrap<DefElem>(o, 'DefElem')));
      }
      return f;
    });
    const body: Body<'create_index'> = {
      name:
        s.idxname ??
        defaultNames.index(
          table,
          columns.map((c) => c.column),
        ),
      table,
      columns,
    };
    if (s.accessMethod && s.accessMethod !== 'btree') body.method = method;
    if (s.unique) body.unique = true;
    const paramsOpen = view.findTop(0, (t) => t.text === '(');
    const afterParams = paramsOpen >= 0 ? view.matchParen(paramsOpen) + 1 : 0;
    if (s.options?.length) {
      const w = view.findTop(afterParams, (t) => t.keyword === 'WITH');
      const inner = w >= 0 ? view.insideParens(w + 1) : undefined;
      if (inner === undefined) throw new Unsupported('cannot read the WITH (...) of the index');
      body.storage_parameters = squash(inner);
    }
    if (s.whereClause) {
      const w = view.findTop(afterParams, (t) => t.keyword === 'WHERE');
      if (w < 0) throw new Unsupported('cannot read the WHERE of the index');
      body.predicate = view.text(w + 1, view.toks.length - 1);
    }
    const i = this.push('create_index', body);
    if (s.if_not_exists) this.warn(stmt, stmt.start, 'IF NOT EXISTS dropped: create_index fails if the index exists', i);
  }

  dropStmt(stmt: SqlStatement, s: DropStmt): void {
    const kind = s.removeType === 'OBJECT_TABLE' ? 'drop_table' : s.removeType === 'OBJECT_INDEX' ? 'drop_index' : undefined;
    if (!kind) throw new Unsupported(`no Tandem operation for ${describe(stmt)}`);
    const names = (s.objects ?? []).map((o) => this.objectName(strings(unwrap<{ items?: Node[] }>(o, 'List')?.items)));
    for (const name of names) {
      const i = this.push(kind, { name });
      if (s.behavior === 'DROP_CASCADE') this.warn(stmt, stmt.start, `CASCADE dropped: objects that depend on ${name} make the operation fail`, i);
      if (s.missing_ok) this.warn(stmt, stmt.start, `IF EXISTS dropped: ${kind} fails if ${name} does not exist`, i);
      if (kind === 'drop_table') {
        this.tables.delete(name);
        this.createdHere.delete(name);
      }
    }
  }

  rename(stmt: SqlStatement, s: RenameStmt): void {
    if (s.renameType === 'OBJECT_COLUMN' && s.relationType === 'OBJECT_TABLE') {
      const table = this.requireRel(s.relation);
      this.push('rename_column', { table, from: s.subname!, to: s.newname! });
      const m = this.tables.get(table);
      const c = m?.columns.get(s.subname!);
      if (m && c) {
        m.columns.delete(s.subname!);
        m.columns.set(s.newname!, c);
        m.primaryKey = m.primaryKey.map((p) => (p === s.subname ? s.newname! : p));
        for (const cols of m.constraints?.values() ?? []) cols.forEach((p, k) => p === s.subname && (cols[k] = s.newname!));
      }
    } else if (s.renameType === 'OBJECT_TABLE') {
      const from = this.requireRel(s.relation);
      this.push('rename_table', { from, to: s.newname! });
      const m = this.tables.get(from);
      if (m) {
        this.tables.delete(from);
        this.tables.set(s.newname!, m);
      }
      this.createdHere.delete(from);
    } else if (s.renameType === 'OBJECT_TABCONSTRAINT') {
      const table = this.requireRel(s.relation);
      this.push('rename_constraint', { table, from: s.subname!, to: s.newname! });
      const cons = this.tables.get(table)?.constraints;
      const cols = cons?.get(s.subname!);
      if (cons && cols) {
        cons.delete(s.subname!);
        cons.set(s.newname!, cols);
      }
    } else {
      throw new Unsupported(`no Tandem operation for ${describe(stmt)}`);
    }
    if (s.missing_ok) this.warn(stmt, stmt.start, 'IF EXISTS dropped', this.ops.length - 1);
  }

  comment(stmt: SqlStatement, s: CommentStmt): void {
    const parts = strings(unwrap<{ items?: Node[] }>(s.object, 'List')?.items);
    const value = s.comment ?? null;
    if (s.objtype === 'OBJECT_COLUMN' && parts.length >= 2) {
      const column = parts[parts.length - 1]!;
      const table = this.objectName(parts.slice(0, -1));
      const created = this.createdHere.get(table);
      const op = created !== undefined ? (this.ops[created] as { create_table: Body<'create_table'> }).create_table : undefined;
      const col = op?.columns.find((c) => c.name === column);
      if (col) {
        col.comment = value;
        this.dropped.push({ ...this.ref(stmt), text: stmt.text, reason: `folded into create_table ${table}` });
      } else this.push('alter_column', { table, column, comment: value });
      return;
    }
    if (s.objtype === 'OBJECT_TABLE') {
      const table = this.objectName(parts);
      const created = this.createdHere.get(table);
      if (created !== undefined && value !== null) {
        (this.ops[created] as { create_table: Body<'create_table'> }).create_table.comment = value;
        this.dropped.push({ ...this.ref(stmt), text: stmt.text, reason: `folded into create_table ${table}` });
        return;
      }
    }
    throw new Unsupported(`no Tandem operation for ${describe(stmt)}`);
  }
}

/** The constraints a column definition carries (name → its one column). */
function columnConstraints(table: string, c: ColumnSpec): [string, string[]][] {
  const out: [string, string[]][] = [];
  if (c.check) out.push([c.check.name, [c.name]]);
  if (c.unique) out.push([defaultNames.unique(table, [c.name]), [c.name]]);
  if (c.references) out.push([c.references.name, [c.name]]);
  return out;
}

/** The constraints of a create_table (its columns' and its table constraints). */
function createdConstraints(table: string, body: Body<'create_table'>): Map<string, string[]> {
  const out = new Map<string, string[]>(body.columns.flatMap((c) => columnConstraints(table, c)));
  for (const c of body.constraints ?? []) out.set(c.name, [...(c.columns ?? [])]);
  return out;
}

/** Why a column cannot go through a shadow column (src/operations/shadow.ts refuses these), if it cannot. */
function unshadowableReason(c: ColumnModel, inPrimaryKey: boolean): string | undefined {
  if (inPrimaryKey) return 'is in the primary key';
  if (c.generated) return 'is an identity, serial or generated column';
  if (c.referenced) return 'is referenced by a foreign key';
  if (c.views?.length) return `is used by view ${c.views.join(', ')}`;
  return undefined;
}

/** The primary key a CREATE TABLE declares (column or table constraint), before its columns are read. */
function declaredPrimaryKey(s: CreateStmt): string[] {
  const out: string[] = [];
  for (const elt of s.tableElts ?? []) {
    const def = unwrap<ColumnDef>(elt, 'ColumnDef');
    const con = unwrap<Constraint>(elt, 'Constraint');
    if (def && (def.constraints ?? []).some((n) => unwrap<Constraint>(n, 'Constraint')?.contype === 'CONSTR_PRIMARY')) out.push(def.colname!);
    if (con?.contype === 'CONSTR_PRIMARY') out.push(...strings(con.keys));
  }
  return out;
}

function fkActions(c: Constraint): Pick<ForeignKeyDef, 'on_delete' | 'on_update'> {
  const out: Pick<ForeignKeyDef, 'on_delete' | 'on_update'> = {};
  const del = FK_ACTIONS[c.fk_del_action ?? 'a'];
  const upd = FK_ACTIONS[c.fk_upd_action ?? 'a'];
  if (del) out.on_delete = del;
  if (upd) out.on_update = upd;
  return out;
}

function collation(names: Node[]): string {
  return strings(names).map(sqlName).join('.');
}

function defElemText(d: DefElem | undefined): string {
  if (!d?.defname) throw new Unsupported('cannot read an operator class parameter');
  const arg = d.arg as Record<string, { ival?: number; fval?: string; sval?: string; boolval?: boolean }> | undefined;
  if (!arg) return d.defname;
  const v = arg['Integer']?.ival ?? arg['Float']?.fval ?? arg['String']?.sval ?? arg['Boolean']?.boolval;
  return `${d.defname}=${String(v ?? 0)}`;
}

function abbreviate(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const COLUMN_KEYS = ['name', 'type', 'nullable', 'default', 'pk', 'unique', 'check', 'references', 'generated', 'comment'] as const;

/** The same object with its keys in a readable order (YAML keeps insertion order). */
function ordered<T extends object>(obj: T, keys: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in obj) out[k] = (obj as Record<string, unknown>)[k];
  for (const [k, v] of Object.entries(obj)) if (!(k in out)) out[k] = v;
  return out as T;
}

/** "CREATE FUNCTION", "GRANT", ... : the first words of a statement, for messages. */
function describe(stmt: SqlStatement): string {
  const words = stmt.text.split(/\s+/).slice(0, 3);
  if (/^(grant|revoke|update|insert|delete|merge|truncate|vacuum|analyze|cluster|reindex|lock|do|call|select|copy|with)$/i.test(words[0] ?? '')) {
    return words[0]!.toUpperCase();
  }
  const keep: string[] = [];
  for (const w of words) {
    if (!/^[A-Za-z]+$/.test(w)) break;
    keep.push(w.toUpperCase());
    if (keep.length === 2 && !['OR', 'UNIQUE', 'MATERIALIZED', 'TEMP', 'TEMPORARY', 'UNLOGGED'].includes(keep[1]!)) break;
  }
  return keep.join(' ') || 'this statement';
}

/** Convert a parsed SQL file. Throws InvalidInputError (exit 2) when nothing is left to convert. */
export function convertSql(parsed: ParsedSql, opts: ConvertOptions = {}): ConvertResult {
  return new Converter(parsed, opts).run();
}
