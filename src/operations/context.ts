import type { CatalogTable, SchemaInfo } from '../catalog/read.js';
import type { ShadowPlan } from './shadow.js';
import { type InputErrorCode, InvalidInputError } from '../errors.js';
import { findColumn, type VColumn, type VirtualSchema, type VTable } from '../model/virtual-schema.js';
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
  kind: 'type' | 'expression' | 'statement';
  sql: string;
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
    readonly catalog: Map<string, CatalogTable> = new Map(),
    readonly info: SchemaInfo = { relationNames: new Set(), replicaIdentity: new Map(), dependents: new Map(), columnDependents: new Map() },
  ) {}

  private readonly created = new Map<string, string[]>();

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
    return t;
  }

  requireColumn(table: VTable, name: string, field = 'column'): VColumn {
    const c = findColumn(table, name);
    if (!c) {
      this.fail(
        `column "${name}" does not exist in table "${table.name}"`,
        field,
        `columns: ${table.columns.map((col) => col.name).join(', ')}`,
        'column-not-found',
      );
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
      this.fail(
        `column "${column.name}" belongs to table "${table.name}", which this migration creates`,
        field,
        'define the column as wanted in create_table',
      );
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
      this.work(table).stages.push({ columns: snapshot(table), up: p.up, down: p.down });
    }
    for (const { check, table } of this.pendingChecks) check.columns = snapshot(table);
    this.pending.clear();
    this.pendingChecks = [];
  }

  checkType(type: string, field: string): void {
    this.checks.push({ kind: 'type', sql: type, scope: 'none', operationIndex: this.index, operation: this.operation, field });
  }

  /**
   * `scope` 'old': the expression sees the table's columns as they are now (before this operation
   * changes them); 'new': as they are after this operation; 'none': no columns (defaults).
   */
  checkExpression(sql: string, scope: 'old' | 'new' | 'none', table: string | undefined, resultType: string, field: string): void {
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
}
