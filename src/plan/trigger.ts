import type { ColumnValue, Stage, StageColumn } from '../operations/context.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { nameTokens, soleIdentifier } from '../sql/rename-refs.js';
import { MARKER_COLUMN } from './names.js';

export interface TriggerSpec {
  schema: string;
  table: string;
  functionName: string;
  triggerName: string;
  versionName: string;
  versionSchema: string;
  /** The table before the migration: the old version's columns. */
  original: StageColumn[];
  /** The table after each of the migration's operations on it. */
  stages: Stage[];
  marker: boolean;
}

/** One operation's step in one direction: the columns after it, and the values it gives some of them. */
interface DirectionStep {
  /** The columns the step leads to (up: the stage after the operation; down: the stage before it). */
  next: StageColumn[];
  values: ColumnValue[];
  label: string;
  /** Names the step's variables: the operation's index in the migration. */
  number: number;
}

/** What a column's value is at some point of the walk: an expression (NEW.<physical> or a variable) and its type. */
interface Value {
  ref: string;
  type: string;
  /** Set when `ref` is NEW.<physical>: the physical column read. */
  physical?: string;
}

/** The PL/pgSQL of one direction: variables to declare in the function's DECLARE, and statements. */
interface DirectionCode {
  declarations: string[];
  statements: string[];
  /** The physical columns the code reads from NEW, and those it writes. */
  reads: Set<string>;
  writes: Set<string>;
}

const newRef = (physical: string) => `NEW.${ident(physical)}`;
const rowValue = (c: StageColumn): Value => ({ ref: newRef(c.physical), type: c.type, physical: c.physical });

/**
 * One direction of the sync, walked through the table's stages (one per operation) without
 * nesting: each column's current value is tracked as an expression — NEW.<physical> at first,
 * then the variable an operation's `up`/`down` computed. An operation that gives values evaluates
 * each expression in a block that binds, as PL/pgSQL variables, the column names (as the
 * operation sees them) the expression uses, to their current values; an operation that gives
 * none (a rename, a comment) only changes which name refers to which value, and emits nothing.
 * An expression that is just a column name of the same type is not evaluated: the value is
 * passed on. Then the physical columns this writer does not write itself get their last value;
 * every write comes after every read of NEW, as when each value was first copied.
 */
function direction(tag: 'up' | 'down', from: StageColumn[], steps: DirectionStep[], writesItself: Set<string>): DirectionCode {
  const declarations: string[] = [];
  const statements: string[] = [];
  let current = from;
  let values = new Map<number, Value>(from.map((c) => [c.id, rowValue(c)]));
  const reads = new Set<string>();
  const read = (v: Value) => {
    if (v.physical !== undefined) reads.add(v.physical);
    return v.ref;
  };
  /** Physical column → its value, in the order of their last assignment. */
  const writes = new Map<string, Value>();

  for (const step of steps) {
    const next = new Map<number, Value>();
    const computed: string[] = [];
    const bound = new Set<StageColumn>();
    // One value per column (the last, if an operation gave two).
    for (const [id, expression] of new Map(step.values.map((v) => [v.id, v.expression]))) {
      const i = step.next.findIndex((c) => c.id === id);
      const column = step.next[i];
      if (!column) continue;
      const sole = soleIdentifier(expression);
      const source = sole === undefined ? undefined : current.find((c) => c.name === sole);
      if (source && source.type === column.type && values.has(source.id)) {
        next.set(column.id, values.get(source.id)!);
      } else {
        const variable = `_tandem_${tag}${step.number}_${i}`;
        declarations.push(`${variable} ${column.type};`);
        computed.push(`${variable} := (${expression});`);
        for (const c of referencedColumns(expression, current)) bound.add(c);
        next.set(column.id, { ref: variable, type: column.type });
      }
      if (!writesItself.has(column.physical)) {
        writes.delete(column.physical);
        writes.set(column.physical, next.get(column.id)!);
      }
    }
    if (computed.length) {
      statements.push(`-- ${step.label}`);
      if (bound.size === 0) statements.push(...computed);
      else {
        statements.push(
          'DECLARE',
          ...bindingOrder([...bound]).map((c) => `  ${ident(c.name)} ${c.type} := ${read(values.get(c.id) ?? rowValue(c))};`),
          'BEGIN',
          ...computed.map((line) => `  ${line}`),
          'END;',
        );
      }
    }
    // Columns the operation leaves alone keep their value; one that appears only now (added
    // without a value for this writer) is read from the row.
    for (const c of step.next) if (!next.has(c.id)) next.set(c.id, values.get(c.id) ?? rowValue(c));
    values = next;
    current = step.next;
  }

  // A write that copies another written column must read it before that one is overwritten.
  const targets = new Set(writes.keys());
  let kept = 0;
  for (const [physical, value] of writes) {
    const readsTarget = [...targets].some((t) => value.ref === newRef(t));
    if (!readsTarget) continue;
    const variable = `_tandem_${tag}_kept_${kept++}`;
    declarations.push(`${variable} ${value.type};`);
    statements.push(`${variable} := ${read(value)};`);
    writes.set(physical, { ref: variable, type: value.type });
  }
  for (const [physical, value] of writes) statements.push(`${newRef(physical)} := ${read(value)};`);
  return { declarations, statements, reads, writes: new Set(writes.keys()) };
}

/** The columns an expression may reference: those whose name is one of its tokens (all of them if it cannot be scanned). */
function referencedColumns(expression: string, columns: StageColumn[]): StageColumn[] {
  const names = nameTokens(expression);
  if (names === undefined) return columns;
  const used = new Set(names);
  return columns.filter((c) => used.has(c.name));
}

/** A variable named "new" would hide the NEW record from the initialisers after it: bound last. */
function bindingOrder(columns: StageColumn[]): StageColumn[] {
  return [...columns.filter((c) => c.name !== 'new'), ...columns.filter((c) => c.name === 'new')];
}

function stageLabel(stage: Stage, k: number, which: 'up' | 'down'): string {
  const op = stage.operationIndex !== undefined ? `operations[${stage.operationIndex}]${stage.operation ? ` (${stage.operation})` : ''}` : `operation ${k + 1} on this table`;
  return which === 'up' ? `${op}: up, over the columns before it` : `${op}: down, over the columns after it`;
}

function dollarTag(body: string): string {
  let tag = '$tandem$';
  for (let i = 0; body.includes(tag); i++) tag = `$tandem${i}$`;
  return tag;
}

const indent = (lines: string[], pad: string) => lines.map((l) => pad + l);

/**
 * The sync trigger of one table. The writer is the new version when it says so with
 * `SET LOCAL tandem.version`, or, when that is not set, when the new version schema is on its
 * search_path; anything else (the old version, the backfill) is the old version. The new
 * version's rows get the old columns from `down` (last operation first); the old version's rows
 * get the new columns from `up` (first operation first).
 */
export function triggerFunctionSql(spec: TriggerSpec): string {
  const fn = qualified('tandem', spec.functionName);
  const { newWriter, oldWriter } = directions(spec);

  const branch = (code: DirectionCode) => indent(code.statements.length ? code.statements : ['NULL; -- nothing to fill in'], '    ').join('\n');
  const declared = [...newWriter.declarations, ...oldWriter.declarations].map((d) => `  ${d}\n`).join('');
  const body = `
DECLARE
  _tandem_writer_is_new boolean := coalesce(
    nullif(current_setting('tandem.version', true), '') IN (${literal(spec.versionName)}, ${literal(spec.versionSchema)}),
    ${literal(spec.versionSchema)} = ANY (current_schemas(false)));
${declared}BEGIN
  IF _tandem_writer_is_new THEN
${branch(newWriter)}
  ELSE
${branch(oldWriter)}
  END IF;
${spec.marker ? `  NEW.${ident(MARKER_COLUMN)} := true;\n` : ''}  RETURN NEW;
END`;
  const tag = dollarTag(body);
  return `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${tag}${body}\n${tag}`;
}

/** Both directions of a table's sync: the new version's writes (down, last operation first) and the old version's (up). */
function directions(spec: TriggerSpec): { newWriter: DirectionCode; oldWriter: DirectionCode } {
  const final = spec.stages.length ? spec.stages[spec.stages.length - 1]!.columns : spec.original;
  const down = [...spec.stages.keys()].reverse().map((j) => ({
    next: j === 0 ? spec.original : spec.stages[j - 1]!.columns,
    values: spec.stages[j]!.down,
    label: stageLabel(spec.stages[j]!, j, 'down'),
    number: spec.stages[j]!.operationIndex ?? j,
  }));
  const up = spec.stages.map((s, k) => ({ next: s.columns, values: s.up, label: stageLabel(s, k, 'up'), number: s.operationIndex ?? k }));
  return {
    newWriter: direction('down', final, down, new Set(final.map((c) => c.physical))),
    oldWriter: direction('up', spec.original, up, new Set(spec.original.map((c) => c.physical))),
  };
}

/**
 * The columns whose presence in an UPDATE's SET list makes the trigger fire (`UPDATE OF`): every
 * column either direction reads or writes, and the marker. An UPDATE that names none of them
 * cannot change what the trigger computes (its inputs are unchanged, and the values it wrote are
 * kept), so it runs no PL/pgSQL at all: a write of an unrelated column costs what it costs
 * without a migration. Such a write leaves the marker as it was; a row not yet backfilled is
 * still filled by the backfill, from its newest version. Naming the marker (`SET marker = true`,
 * the re-sync statement tandem prints) always fires it. In table order.
 */
export function triggerColumns(spec: TriggerSpec): string[] {
  const { newWriter, oldWriter } = directions(spec);
  const wanted = new Set([...newWriter.reads, ...newWriter.writes, ...oldWriter.reads, ...oldWriter.writes, MARKER_COLUMN]);
  return physicalColumns(spec).filter((p) => wanted.has(p));
}

/** Every physical column of the table through the migration (table order), except `excluded`. */
export function columnsBesides(spec: TriggerSpec, excluded: string[]): string[] {
  return physicalColumns(spec).filter((p) => !excluded.includes(p));
}

/** The table's physical columns through the migration, in table order (the original's, then the stages' new ones), and the marker if it has one. */
function physicalColumns(spec: TriggerSpec): string[] {
  const all = [...spec.original, ...spec.stages.flatMap((st) => st.columns)].map((c) => c.physical);
  return [...new Set([...all, ...(spec.marker ? [MARKER_COLUMN] : [])])];
}

/**
 * `SET LOCAL tandem.version = '__tandem_backfill_direct'` is what the set-based backfill's
 * transactions say. Triggers of plans stored by earlier versions skip the function for it in a
 * WHEN clause; the triggers generated now need none (see createTriggerSql).
 */
export const DIRECT_WRITER_VERSION = '__tandem_backfill_direct';

/**
 * The sync trigger, for INSERT and for an UPDATE that names one of `columns` in its SET list
 * (`UPDATE OF`), or every UPDATE. Which columns is the plan's choice (src/plan/planner.ts):
 * - while the set-based backfill runs: every column but those it writes (the new columns and the
 *   marker). Its own UPDATEs then run no PL/pgSQL, and any other UPDATE fills its row, as a row
 *   not yet backfilled needs (a NOT NULL check on a shadow column holds for every new version);
 * - once every row is in sync, or when nothing is to be backfilled: the columns the trigger
 *   reads or writes (triggerColumns), so an update of any other column costs nothing more.
 * There is no WHEN clause: PostgreSQL prepares one for every statement, 2–10 µs per one-row
 * write (docs/write-cost.md), whereas the column check costs nothing measurable.
 */
export function createTriggerSql(spec: TriggerSpec, columns: string[] | 'every update', replace = false): string {
  // No column to watch (none is left but those the backfill writes): only inserts need the function.
  const events = columns === 'every update' ? 'INSERT OR UPDATE' : columns.length ? `INSERT OR UPDATE OF ${columns.map(ident).join(', ')}` : 'INSERT';
  return (
    `CREATE ${replace ? 'OR REPLACE ' : ''}TRIGGER ${ident(spec.triggerName)} BEFORE ${events} ON ${qualified(spec.schema, spec.table)} ` +
    `FOR EACH ROW EXECUTE FUNCTION ${qualified('tandem', spec.functionName)}()`
  );
}

export function dropTriggerSql(spec: Pick<TriggerSpec, 'schema' | 'table' | 'triggerName' | 'functionName'>): string[] {
  return [`DROP TRIGGER IF EXISTS ${ident(spec.triggerName)} ON ${qualified(spec.schema, spec.table)}`, `DROP FUNCTION IF EXISTS ${qualified('tandem', spec.functionName)}()`];
}
