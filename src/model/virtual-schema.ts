import type { CatalogTable } from '../catalog/read.js';

/**
 * The schema as the version being built sees it: for each table, the columns the version's view
 * exposes and the physical column behind each. Operations are checked against it and update it
 * one after another, so later operations see what earlier ones did.
 */
export interface VColumn {
  /** Identity of the logical column across the operations of a migration (renames, shadows). */
  id: number;
  name: string;
  physical: string;
  type: string;
  nullable: boolean;
  default: string | null;
  /** Part of a primary key or used by an index/constraint other than NOT NULL. */
  indexed: boolean;
  /** Values come from an identity, a generation expression or a sequence (serial): not a plain default. */
  generatedBy?: 'identity' | 'expression' | 'sequence';
  /** Created by an operation of this migration (in a table created by it): changed in place, not shadowed. */
  touchedBy?: number;
}

export interface VTable {
  name: string;
  physical: string;
  columns: VColumn[];
  /** Physical primary key columns, or [] if none. */
  primaryKey: string[];
  /** A unique index over not-null columns usable as a backfill key when there is no primary key. */
  uniqueNotNullKey: string[];
  createdByMigration: boolean;
  estimatedRows: number;
}

export class VirtualSchema {
  readonly tables = new Map<string, VTable>();
  private nextId = 1;

  newColumnId(): number {
    return this.nextId++;
  }

  static fromCatalog(tables: Map<string, Omit<CatalogTable, 'oid'>>): VirtualSchema {
    const vs = new VirtualSchema();
    for (const t of tables.values()) {
      const usedByIndex = new Set<string>();
      for (const i of t.indexes) i.columns.forEach((c) => usedByIndex.add(c));
      for (const c of t.constraints) if (c.type !== 'n') c.columns.forEach((col) => usedByIndex.add(col));
      const notNull = new Set(t.columns.filter((c) => c.notNull).map((c) => c.name));
      const uniqueKey = t.indexes.find((i) => i.unique && i.valid && !i.partial && !i.expression && i.columns.every((c) => notNull.has(c)));
      vs.tables.set(t.name, {
        name: t.name,
        physical: t.name,
        columns: t.columns.map((c) => ({
          id: vs.newColumnId(),
          name: c.name,
          physical: c.name,
          type: c.type,
          nullable: !c.notNull,
          default: c.default,
          indexed: usedByIndex.has(c.name),
          ...(c.identity
            ? { generatedBy: 'identity' as const }
            : c.generated
              ? { generatedBy: 'expression' as const }
              : /^nextval\(/.test(c.default ?? '')
                ? { generatedBy: 'sequence' as const }
                : {}),
        })),
        primaryKey: t.primaryKey,
        uniqueNotNullKey: uniqueKey?.columns ?? [],
        createdByMigration: false,
        estimatedRows: t.estimatedRows,
      });
    }
    return vs;
  }

  clone(): VirtualSchema {
    const copy = new VirtualSchema();
    for (const [k, t] of this.tables) copy.tables.set(k, { ...t, columns: t.columns.map((c) => ({ ...c })) });
    copy.nextId = this.nextId;
    return copy;
  }

  table(name: string): VTable | undefined {
    return this.tables.get(name);
  }
}

export function findColumn(table: VTable, name: string): VColumn | undefined {
  return table.columns.find((c) => c.name === name);
}
