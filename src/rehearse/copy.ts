import type pg from 'pg';
import type { EstimateFacts } from '../estimate/facts.js';
import { qualified } from '../sql/ident.js';
import { syntheticColumns } from './columns.js';
import { addConstraintSql, checkExpression, CONSTRAINT_ORDER, createTableSql, prerequisiteSql, type SchemaSource, standaloneIndexes, type TableSource } from './schema-copy.js';
import { columnPlan, insertSql } from './synthetic.js';

/**
 * The scratch copy: the live schema's tables (no rows copied) recreated in a scratch database and
 * filled with synthetic rows at the live row counts × scale, following the live statistics. Keys,
 * checks, foreign keys and indexes are added after the rows (faster, and a generated row that
 * violates a CHECK is removed and counted, rather than failing the fill).
 */

export interface CopiedTable {
  table: string;
  liveRows: number;
  targetRows: number;
  rows: number;
  seconds: number;
  notes: string[];
}

export interface CopyReport {
  tables: CopiedTable[];
  /** Objects of the live schema that could not be recreated (an index the synthetic rows break…). */
  notes: string[];
  seconds: number;
}

const CHUNK_ROWS = 200_000;

export async function buildCopy(scratch: pg.Client, source: SchemaSource, facts: EstimateFacts, scale: number, log: (m: string) => void = () => undefined): Promise<CopyReport> {
  const t0 = performance.now();
  const notes: string[] = [];
  await scratch.query('SELECT setseed(0.4242)');
  for (const sql of prerequisiteSql(source)) await scratch.query(sql);
  const target = (t: string) => Math.round((facts.tables.find((s) => s.table === t)?.rows ?? 0) * scale);
  for (const t of source.tables) await scratch.query(createTableSql(t, qualified(source.schema, t.name)));
  const tables: CopiedTable[] = [];
  for (const t of source.tables) {
    const ts = performance.now();
    const tableNotes: string[] = [];
    const rows = target(t.name);
    log(`rehearse: filling ${t.name} with ${rows.toLocaleString('en-US')} synthetic rows`);
    await fillTable(scratch, source, facts, t, rows, target, tableNotes);
    tables.push({
      table: t.name,
      liveRows: facts.tables.find((s) => s.table === t.name)?.rows ?? 0,
      targetRows: rows,
      rows,
      seconds: (performance.now() - ts) / 1000,
      notes: tableNotes,
    });
  }
  for (const kind of CONSTRAINT_ORDER) {
    for (const t of source.tables) {
      for (const c of t.constraints.filter((x) => x.type === kind)) {
        const entry = tables.find((x) => x.table === t.name)!;
        await addConstraint(scratch, source.schema, t, c, entry, notes);
      }
    }
  }
  for (const t of source.tables) {
    for (const i of standaloneIndexes(t)) {
      await scratch.query(i.definition).catch((err: unknown) => notes.push(`index ${i.name} of ${t.name} not recreated: ${(err as Error).message}`));
    }
  }
  for (const t of source.tables) {
    await scratch.query(`VACUUM ANALYZE ${qualified(source.schema, t.name)}`);
    const entry = tables.find((x) => x.table === t.name)!;
    entry.rows = Number((await scratch.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(source.schema, t.name)}`)).rows[0]!.n);
  }
  return { tables, notes, seconds: (performance.now() - t0) / 1000 };
}

async function fillTable(
  scratch: pg.Client,
  source: SchemaSource,
  facts: EstimateFacts,
  t: TableSource,
  rows: number,
  rowsOf: (t: string) => number,
  notes: string[],
): Promise<void> {
  const columns = syntheticColumns({ table: t, source, statsOf: (name) => facts.tables.find((s) => s.table === name), rowsOf, serverValues: true, followForeignKeys: true });
  const plans = columns.map((c) => columnPlan(c, rows));
  for (const p of plans) if (p.note) notes.push(`${p.column}: ${p.note}`);
  if (!facts.tables.find((s) => s.table === t.name)?.columns.length && rows > 0) notes.push('no live statistics (never analysed): values follow the column types only');
  for (let from = 0; from < rows; from += CHUNK_ROWS) {
    await scratch.query(insertSql(qualified(source.schema, t.name), plans, from, Math.min(rows, from + CHUNK_ROWS)));
  }
}

/**
 * One constraint after the rows. A CHECK the synthetic rows violate: those rows are removed and
 * counted, then it is added. A key or foreign key that fails is reported and left out (the copy
 * then differs from the live schema there, and the report says so).
 */
async function addConstraint(scratch: pg.Client, schema: string, t: TableSource, c: TableSource['constraints'][number], entry: CopiedTable, notes: string[]): Promise<void> {
  const table = qualified(schema, t.name);
  const sql = addConstraintSql(table, c);
  try {
    await scratch.query(sql);
    return;
  } catch (err) {
    const expr = c.type === 'c' ? checkExpression(c.definition) : undefined;
    if (expr === undefined) {
      notes.push(`constraint ${c.name} of ${t.name} not recreated: ${(err as Error).message}`);
      return;
    }
  }
  const expr = checkExpression(c.definition)!;
  const removed = await scratch.query(`DELETE FROM ${table} WHERE NOT (${expr})`);
  entry.notes.push(`${removed.rowCount ?? 0} synthetic rows violated CHECK ${c.name} and were removed`);
  await scratch.query(sql).catch((e: unknown) => notes.push(`constraint ${c.name} of ${t.name} not recreated: ${(e as Error).message}`));
}
