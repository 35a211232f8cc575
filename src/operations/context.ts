import type { CatalogTable, SchemaInfo } from '../catalog/read.js';
import type { ShadowPlan } from './shadow.js';
import { formatLocation, type InputErrorCode, InvalidInputError } from '../errors.js';
import { findColumn, type VColumn, type VirtualSchema, type VTable } from '../model/virtual-schema.js';
import { checkExpressionFragment, checkTypeFragment } from '../sql/fragments.js';
import { identifierFits } from '../sql/ident.js';

/** A column as one stage of the migration sees it. */
export interface StageColumn {
  id: number;
  name: string;
  physical: string;
  type: string;
}

/** A value an operation gives a column, as an SQL expression over the columns of a stage. */
export interface ColumnValue {
  id: number;
  expression: string;
}

/**
 * One operation's effect on a table: the columns after it, `up` values for columns after it
 * (computed from the columns before it, for rows the old version writes), and `down` values for
 * columns before it (computed from the columns after it, for rows the new version writes).
 */
export interface Stage {
  columns: StageColumn[];
  up: ColumnValue[];
  down: ColumnValue[];
  /** The operation that made this stage (its index in the migration, its kind): named in the sync trigger's comments. */
  operationIndex?: number;
  operation?: string;
}

/** Everything one migration does to one existing table, gathered across its operations. */
export interface TableWork {
  table: string;
  stages: Stage[];
  backfill: boolean;
}

export function snapshot(table: VTable): StageColumn[] {
  return table.columns.map((c) => ({ id: c.id, name: c.name, physical: c.physical, type: c.type }));
}

/** An SQL expression or type to check against the database before anything is changed. */
export interface DeferredCheck {
  /** 'condition': a boolean over the columns (CHECK); 'lookup': a query whose one row says `found`. */
  kind: 'type' | 'expression' | 'statement' | 'condition' | 'lookup';
  sql: string;
  /** For lookups: the query's parameters, and what to say when nothing is found. */
  params?: unknown[];
  missing?: { problem: string; code: InputErrorCode; hint?: string };
  /** For statements: the error code (and field) of a failure, from its SQLSTATE. */
  /** Checks of one group are skipped from the first whose failure has one of these SQLSTATEs (e.g. no TEMP privilege). */
  group?: string;
  skipGroupOn?: string[];
  classify?: (sqlstate: string | undefined, message: string) => { code: InputErrorCode; field?: string; problem?: string } | undefined;
  /** For expressions: which columns it sees (the table before or after its operation); 'none' for defaults. */
  scope: 'old' | 'new' | 'none';
  table?: string;
  columns?: { name: string; type: string }[];
  resultType?: string;
  operationIndex: number;
  operation: string;
  field: string;
}

export class OpContext {
  index = 0;
  operation = '';
  readonly works = new Map<string, TableWork>();
  readonly checks: DeferredCheck[] = [];
  /** Set by a raw `sql` operation: the version schema is then built from the catalog at run time. */
  rawSql = false;
  private readonly claimedNames = new Set<string>();
  /** Per table: old physical column → its shadow, and constraints the new version drops. */
  readonly shadows = new Map<string, { columns: Map<string, string>; without: Set<string> }>();
  /** Shadow plans by column id, so a later operation on the same column changes the same shadow. */
  readonly shadowPlans = new Map<number, ShadowPlan>();

  constructor(
    readonly schema: string,
    readonly versionSchema: string,
    readonly model: VirtualSchema,
    readonly file: string | undefined,
    readonly catalog: Map<string, Omit<CatalogTable, 'oid'>> = new Map(),
    readonly info: SchemaInfo = { relationNames: new Set(), replicaIdentity: new Map(), dependents: new Map(), columnDependents: new Map() },
  ) {}

  private readonly created = new Map<string, string[]>();
  /** Columns and unique keys of the tables this migration creates, for foreign keys to them. */
  readonly createdTables = new Map<string, { columns: string[]; keys: string[][] }>();

  /** Physical columns this migration adds to an existing table (added columns, shadows). */
  createdPhysicals(table: string): string[] {
    return this.created.get(table) ?? [];
  }

  addedPhysical(table: string, column: string): void {
    this.created.set(table, [...this.createdPhysicals(table), column]);
  }

  shadowed(table: string, column: string, shadow: string, withoutConstraint?: string): void {
    if (!this.createdPhysicals(table).includes(shadow)) this.addedPhysical(table, shadow);
    let s = this.shadows.get(table);
    if (!s) this.shadows.set(table, (s = { columns: new Map(), without: new Set() }));
    s.columns.set(column, shadow);
    if (withoutConstraint !== undefined) s.without.add(withoutConstraint);
  }

  relationNameTaken(name: string): boolean {
    return this.info.relationNames.has(name) || this.claimedNames.has(name);
  }

  indexExists(name: string): boolean {
    return this.relationNameTaken(name);
  }

  claimRelationName(name: string): void {
    this.claimedNames.add(name);
  }

  /** Physical table of an existing index, if there is one of that name. */
  tableOfIndex(name: string): string | undefined {
    for (const t of this.catalog.values()) if (t.indexes.some((i) => i.name === name)) return t.name;
    return undefined;
  }

  indexBacksConstraint(name: string): boolean {
    for (const t of this.catalog.values()) if (t.constraints.some((c) => c.name === name && ['p', 'u', 'x'].includes(c.type))) return true;
    return false;
  }

  constraintExists(table: string, name: string): boolean {
    return this.catalog.get(table)?.constraints.some((c) => c.name === name) ?? false;
  }

  /**
   * Complete drops this column; anything outside its table that depends on it would make that
   * fail after the point of no return, so it is refused now.
   */
  requireDroppable(table: string, column: string, field: string): void {
    const deps = this.info.columnDependents.get(`${table}.${column}`) ?? [];
    if (deps.length) {
      this.fail(
        `column "${column}" of table "${table}" is used by ${deps.join(', ')}; complete could not drop it`,
        field,
        'drop or change those objects first (in an earlier migration)',
      );
    }
  }

  dependentsOf(table: string): string[] {
    return this.info.dependents.get(table) ?? [];
  }

  replicaIdentityOf(table: string): { type: string; index: string | null } {
    return this.info.replicaIdentity.get(table) ?? { type: 'DEFAULT', index: null };
  }

  /** Things accepted but worth telling (e.g. an `up` that no change needs), with where they are. */
  readonly warnings: string[] = [];

  warn(message: string, field?: string): void {
    const where = formatLocation({
      ...(this.file !== undefined ? { file: this.file } : {}),
      operationIndex: this.index,
      operation: this.operation,
      ...(field !== undefined ? { field } : {}),
    });
    this.warnings.push(`${where}: ${message}`);
  }

  fail(problem: string, field?: string, hint?: string, code: InputErrorCode = 'invalid-field'): never {
    throw new InvalidInputError(
      problem,
      {
        ...(this.file !== undefined ? { file: this.file } : {}),
        operationIndex: this.index,
        operation: this.operation,
        ...(field !== undefined ? { field } : {}),
      },
      hint,
      { code },
    );
  }

  requireTable(name: string, field = 'table'): VTable {
    const t = this.model.table(name);
    if (!t) {
      const known = [...this.model.tables.keys()];
      this.fail(
        `table "${name}" does not exist in schema "${this.schema}"`,
        field,
        known.length ? `existing tables: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}` : 'the schema has no tables',
        'table-not-found',
      );
    }
    this.requireNoReservedColumns(t, field);
    return t;
  }

  /**
   * Tandem adds columns named `_tandem_…` (shadows, the backfill marker `_tandem_synced`) to the
   * tables it changes; one that is already there (made by hand, or left by another tool) would
   * collide with them at start, so a table carrying one is refused before anything is changed.
   */
  requireNoReservedColumns(table: VTable, field: string): void {
    if (table.createdByMigration) return;
    const reserved = this.catalog.get(table.physical)?.columns.find((c) => c.name.startsWith('_tandem_'));
    if (reserved) {
      this.fail(
        `table "${table.name}" already has a column "${reserved.name}"; names starting with "_tandem_" are reserved for the columns tandem adds (shadow columns, the backfill marker _tandem_synced)`,
        field,
        'rename or drop that column with plain SQL (ALTER TABLE … RENAME COLUMN), then run the migration again',
        'reserved-name',
      );
    }
  }

  requireColumn(table: VTable, name: string, field = 'column'): VColumn {
    const c = findColumn(table, name);
    if (!c) {
      this.fail(`column "${name}" does not exist in table "${table.name}"`, field, `columns: ${table.columns.map((col) => col.name).join(', ')}`, 'column-not-found');
    }
    return c;
  }

  requireNewName(table: VTable, name: string, field: string): void {
    if (findColumn(table, name)) this.fail(`column "${name}" already exists in table "${table.name}"`, field, undefined, 'already-exists');
    this.requireIdentifier(name, field);
  }

  requireIdentifier(name: string, field: string): void {
    if (!identifierFits(name)) this.fail(`"${name}" is longer than PostgreSQL's 63-byte identifier limit`, field, 'use a name of at most 63 bytes', 'name-too-long');
    if (name.startsWith('_tandem_')) this.fail(`names starting with "_tandem_" are reserved for tandem`, field, undefined, 'reserved-name');
  }

  /**
   * Operations chain on a column (a rename, then a type change…), except on tables this same
   * migration creates, whose columns are defined by create_table.
   */
  claimColumn(table: VTable, column: VColumn, field: string): void {
    if (table.createdByMigration) {
      this.fail(`column "${column.name}" belongs to table "${table.name}", which this migration creates`, field, 'define the column as wanted in create_table');
    }
    this.touch(table);
  }

  work(table: VTable): TableWork {
    let w = this.works.get(table.physical);
    if (!w) {
      w = { table: table.physical, stages: [], backfill: false };
      this.works.set(table.physical, w);
    }
    return w;
  }

  private pending = new Map<VTable, { up: ColumnValue[]; down: ColumnValue[] }>();
  private pendingChecks: { check: DeferredCheck; table: VTable }[] = [];

  private pendingFor(table: VTable) {
    let p = this.pending.get(table);
    if (!p) this.pending.set(table, (p = { up: [], down: [] }));
    return p;
  }

  /** For rows the old version writes (and the backfill): `column` gets `expression`, over the columns before this operation. */
  assignUp(table: VTable, column: VColumn, expression: string): void {
    this.pendingFor(table).up.push({ id: column.id, expression });
  }

  /** For rows the new version writes: `column` as it was before this operation gets `expression`, over the columns after it. */
  assignDown(table: VTable, column: VColumn, expression: string): void {
    this.pendingFor(table).down.push({ id: column.id, expression });
  }

  /** Marks a table as changed by the current operation (so its columns after it are recorded). */
  touch(table: VTable): void {
    if (!table.createdByMigration) this.pendingFor(table);
  }

  /** Called after each operation: records a stage for every table it changed. */
  endOperation(): void {
    for (const [table, p] of this.pending) {
      this.work(table).stages.push({ columns: snapshot(table), up: p.up, down: p.down, operationIndex: this.index, operation: this.operation });
    }
    for (const { check, table } of this.pendingChecks) check.columns = snapshot(table);
    this.pending.clear();
    this.pendingChecks = [];
  }

  /** Where the current operation's `field` is, for errors. */
  at(field: string): { file?: string; operationIndex: number; operation: string; field: string } {
    return { ...(this.file !== undefined ? { file: this.file } : {}), operationIndex: this.index, operation: this.operation, field };
  }

  checkType(type: string, field: string): void {
    checkTypeFragment(type, this.at(field));
    this.checks.push({ kind: 'type', sql: type, scope: 'none', operationIndex: this.index, operation: this.operation, field });
  }

  /**
   * `scope` 'old': the expression sees the table's columns as they are now (before this operation
   * changes them); 'new': as they are after this operation; 'none': no columns (defaults).
   */
  checkExpression(sql: string, scope: 'old' | 'new' | 'none', table: string | undefined, resultType: string, field: string): void {
    // Parsed first: a syntax error, an aggregate or a subquery in a default needs no database.
    checkExpressionFragment(sql, scope === 'none' ? 'default' : 'value', this.at(field));
    const check: DeferredCheck = {
      kind: 'expression',
      sql,
      scope,
      ...(table !== undefined ? { table } : {}),
      resultType,
      operationIndex: this.index,
      operation: this.operation,
      field,
    };
    const t = table !== undefined ? this.model.table(table) : undefined;
    if (t && scope === 'old') check.columns = snapshot(t);
    if (t && scope === 'new') this.pendingChecks.push({ check, table: t });
    this.checks.push(check);
  }

  /**
   * A CHECK constraint: a boolean over the table's columns after this operation, or over
   * `columns` (a table this operation creates). Tried in a WHERE clause, which refuses what CHECK
   * refuses: non-boolean, aggregates, window and set-returning functions.
   */
  checkCondition(sql: string, table: string | undefined, field: string, columns?: { name: string; type: string }[]): void {
    checkExpressionFragment(sql, 'check', this.at(field));
    const check: DeferredCheck = { kind: 'condition', sql, scope: 'new', ...(table !== undefined ? { table } : {}), operationIndex: this.index, operation: this.operation, field };
    const t = table !== undefined ? this.model.table(table) : undefined;
    if (columns) check.columns = columns;
    else if (t) this.pendingChecks.push({ check, table: t });
    this.checks.push(check);
  }
}
