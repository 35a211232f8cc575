import type { CatalogTable, SchemaInfo } from '../catalog/read.js';
import { InvalidInputError } from '../errors.js';
import { findColumn, type VColumn, type VirtualSchema, type VTable } from '../model/virtual-schema.js';
import { identifierFits } from '../sql/ident.js';

/** `NEW.<target> := (<expression>)` inside the table's sync trigger. */
export interface Assignment {
  target: string;
  expression: string;
}

/** Everything one migration does to one existing table, gathered across its operations. */
export interface TableWork {
  table: string;
  /** Applied when the old version writes a row, and by the backfill. Expressions see old column names. */
  up: Assignment[];
  /** Applied when the new version writes a row. Expressions see new column names. */
  down: Assignment[];
  backfill: boolean;
}

/** An SQL expression or type to check against the database before anything is changed. */
export interface DeferredCheck {
  kind: 'type' | 'expression' | 'statement';
  sql: string;
  /** For expressions: which version's columns it sees; 'none' for defaults. */
  scope: 'old' | 'new' | 'none';
  table?: string;
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

  constructor(
    readonly schema: string,
    readonly versionSchema: string,
    readonly model: VirtualSchema,
    readonly file: string | undefined,
    readonly catalog: Map<string, CatalogTable> = new Map(),
    readonly info: SchemaInfo = { relationNames: new Set(), replicaIdentity: new Map(), dependents: new Map(), columnDependents: new Map() },
  ) {}

  shadowed(table: string, column: string, shadow: string, withoutConstraint?: string): void {
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

  fail(problem: string, field?: string, hint?: string): never {
    throw new InvalidInputError(
      problem,
      {
        ...(this.file !== undefined ? { file: this.file } : {}),
        operationIndex: this.index,
        operation: this.operation,
        ...(field !== undefined ? { field } : {}),
      },
      hint,
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
      );
    }
    return c;
  }

  requireNewName(table: VTable, name: string, field: string): void {
    if (findColumn(table, name)) this.fail(`column "${name}" already exists in table "${table.name}"`, field);
    this.requireIdentifier(name, field);
  }

  requireIdentifier(name: string, field: string): void {
    if (!identifierFits(name)) this.fail(`"${name}" is longer than PostgreSQL's 63-byte identifier limit`, field);
    if (name.startsWith('_tandem_')) this.fail(`names starting with "_tandem_" are reserved for tandem`, field);
  }

  /** One operation per column per migration in this version; chaining several is not supported yet. */
  claimColumn(table: VTable, column: VColumn, field: string): void {
    if (column.touchedBy !== undefined) {
      this.fail(
        `column "${column.name}" of table "${table.name}" is already changed by operations[${column.touchedBy}] of this migration`,
        field,
        'combine the changes into one alter_column (it takes name, type and nullable together), or split them into two migrations',
      );
    }
    column.touchedBy = this.index;
  }

  work(table: VTable): TableWork {
    let w = this.works.get(table.physical);
    if (!w) {
      w = { table: table.physical, up: [], down: [], backfill: false };
      this.works.set(table.physical, w);
    }
    return w;
  }

  checkType(type: string, field: string): void {
    this.checks.push({ kind: 'type', sql: type, scope: 'none', operationIndex: this.index, operation: this.operation, field });
  }

  checkExpression(sql: string, scope: 'old' | 'new' | 'none', table: string | undefined, resultType: string, field: string): void {
    this.checks.push({
      kind: 'expression',
      sql,
      scope,
      ...(table !== undefined ? { table } : {}),
      resultType,
      operationIndex: this.index,
      operation: this.operation,
      field,
    });
  }
}
