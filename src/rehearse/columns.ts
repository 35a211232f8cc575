import type { TableStats } from '../estimate/facts.js';
import { type SchemaSource, serverGenerated, type TableSource } from './schema-copy.js';
import type { SyntheticColumn } from './synthetic.js';

/**
 * The generator's view of a table's columns: which must be distinct (first column of a primary
 * key or unique constraint or unique index), which reference a parent's key, and their live
 * statistics. Pure.
 */

const IDENT = `(?:"(?:[^"]|"")*"|[^\\s".(),]+)`;
const FK = new RegExp(`^FOREIGN KEY \\((${IDENT})\\) REFERENCES (?:(${IDENT})\\.)?(${IDENT})\\((${IDENT})\\)`);
const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);

/** A single-column foreign key's parent table and column (same schema only), from its definition. */
export function foreignKeyTarget(definition: string): { column: string; schema: string | undefined; table: string; parentColumn: string } | undefined {
  const m = FK.exec(definition);
  if (!m) return undefined;
  return { column: unquote(m[1]!), schema: m[2] ? unquote(m[2]) : undefined, table: unquote(m[3]!), parentColumn: unquote(m[4]!) };
}

function distinctColumns(t: TableSource): Set<string> {
  const out = new Set<string>();
  for (const c of t.constraints) if ((c.type === 'p' || c.type === 'u') && c.columns[0]) out.add(c.columns[0]);
  for (const i of t.indexes) if (i.unique && !i.expression && i.columns[0]) out.add(i.columns[0]);
  return out;
}

export interface ColumnsInput {
  table: TableSource;
  source: SchemaSource;
  /** Live statistics of a table of the schema (a parent's too: its keys are recomputed from them). */
  statsOf: (table: string) => TableStats | undefined;
  /** Rows each table of the copy gets (foreign keys pick a parent row number in 1…that). */
  rowsOf: (table: string) => number;
  /**
   * false for a copy inside the live database (the calibration): every value is generated, none
   * left to a sequence (nextval() there would advance a live sequence) or identity.
   */
  serverValues: boolean;
  /** Follow foreign keys to their parent's keys (the scratch copy); false: plain values. */
  followForeignKeys: boolean;
}

export function syntheticColumns(input: ColumnsInput): SyntheticColumn[] {
  const { table, source } = input;
  const stats = input.statsOf(table.name);
  const distinct = distinctColumns(table);
  const enums = new Set(source.enums.flatMap((e) => [e.name, `${source.schema}.${e.name}`]));
  const base = (c: TableSource['columns'][number]): SyntheticColumn => ({
    name: c.name,
    type: c.type,
    notNull: c.notNull,
    hasDefault: input.serverValues && c.default !== null,
    serverGenerated: c.generated !== '' || (input.serverValues && serverGenerated(c)),
    isEnum: enums.has(c.type.replace(/"/g, '')),
    distinct: distinct.has(c.name),
    stats: stats?.columns.find((s) => s.column === c.name),
  });
  const columns = table.columns.map(base);
  if (!input.followForeignKeys) return columns;
  for (const con of table.constraints) {
    if (con.type !== 'f' || con.columns.length !== 1) continue;
    const fk = foreignKeyTarget(con.definition);
    if (!fk || (fk.schema !== undefined && fk.schema !== source.schema)) continue;
    const parent = source.tables.find((t) => t.name === fk.table);
    const parentCol = parent?.columns.find((c) => c.name === fk.parentColumn);
    const col = columns.find((c) => c.name === fk.column);
    if (!parent || !parentCol || !col || col.distinct) continue;
    const parentSynthetic = syntheticColumns({ ...input, table: parent, followForeignKeys: false }).find((c) => c.name === fk.parentColumn)!;
    col.references = { column: parentSynthetic, parentRows: input.rowsOf(parent.name), parentKeyFromSequence: input.serverValues && serverGenerated(parentCol) };
  }
  return columns;
}
