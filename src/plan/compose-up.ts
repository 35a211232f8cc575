import type { Stage, StageColumn } from '../operations/context.js';
import { ident } from '../sql/ident.js';
import { nameTokens, soleIdentifier } from '../sql/rename-refs.js';

/**
 * The `up` direction of a table's sync, composed as one SQL clause instead of the trigger's
 * PL/pgSQL, so that the set-based backfill computes the new columns in its own UPDATE:
 *
 *   SELECT … FROM tbl AS __tandem_row CROSS JOIN <lateral> …   then   __tandem_up."target"
 *
 * `lateral` is `LATERAL (…) AS __tandem_up`. It reads the row through the alias `__tandem_row`
 * (the table's physical columns, as they are before the migration's new columns are filled) and
 * has one column per target physical column, under that column's own name, holding what `up`
 * computes for it.
 *
 * It walks the stages exactly as `direction('up', …)` in src/plan/trigger.ts does: each column's
 * value is a reference (a physical column of the row, or a value computed by an earlier stage);
 * a stage that gives values evaluates each expression in a one-row subquery that binds every
 * column name of the stage before it (as that operation sees them) to its current value, so an
 * expression (functions, casts, subqueries) resolves its names as it does in the trigger; an
 * expression that is just a column name of the same type passes the value on; a stage that gives
 * none (a rename) only changes which name refers to which value. The last value of each physical
 * column that the old version does not write itself is a target.
 */
export const UP_ROW_ALIAS = '__tandem_row';
export const UP_ALIAS = '__tandem_up';

export interface ComposedUp {
  /** Physical columns the backfill fills, in the order of their last assignment (as the trigger writes them). */
  targets: string[];
  /** `LATERAL (…) AS __tandem_up`, over `__tandem_row`. */
  lateral: string;
}

/** A column's value at some point of the walk: a physical column of the row, or a computed value of the level so far. */
type Ref = { kind: 'row'; physical: string } | { kind: 'computed'; name: string };

interface Walk {
  /** The nested subquery computing every value so far (undefined until a stage computes one). */
  level: string | undefined;
  /** The computed values the level exposes, by name. */
  computed: string[];
}

const LEVEL_ALIAS = '__tandem_prev';
const BIND_ALIAS = '__tandem_bind';
const STAGE_ALIAS = '__tandem_stage';

function refSql(ref: Ref): string {
  return ref.kind === 'row' ? `${UP_ROW_ALIAS}.${ident(ref.physical)}` : `${LEVEL_ALIAS}.${ident(ref.name)}`;
}

/**
 * The type a computed value is cast to. PL/pgSQL assigns with assignment coercion (a too-long
 * varchar is an error); an explicit CAST would silently truncate one. For character types the
 * length is therefore left to the UPDATE's own assignment to the physical column, which applies
 * it exactly as the trigger's assignment does; every other type (numeric(p,s) rounds the same
 * either way) is cast as declared.
 */
export function castTypeOf(type: string): string {
  const m = /^\s*(character varying|varchar|character|char|bpchar)\s*\(\s*\d+\s*\)\s*((?:\[\s*\])*)\s*$/i.exec(type);
  if (!m) return type;
  const base = /^(character varying|varchar)$/i.test(m[1]!) ? 'character varying' : 'bpchar';
  return `${base}${m[2]!.replace(/\s+/g, '')}`;
}

/**
 * Compose `up` over the table's stages, from its columns before the migration. Undefined when
 * there is nothing to fill (no stage gives an `up` value to a column the old version does not write).
 */
export function composeUp(original: StageColumn[], stages: Stage[]): ComposedUp | undefined {
  const writesItself = new Set(original.map((c) => c.physical));
  let current = original;
  let values = new Map<number, Ref>(original.map((c) => [c.id, { kind: 'row', physical: c.physical }]));
  const writes = new Map<string, Ref>();
  const walk: Walk = { level: undefined, computed: [] };

  stages.forEach((stage, k) => {
    const next = new Map<number, Ref>();
    const computed: { name: string; sql: string }[] = [];
    for (const [id, expression] of new Map(stage.up.map((v) => [v.id, v.expression]))) {
      const i = stage.columns.findIndex((c) => c.id === id);
      const column = stage.columns[i];
      if (!column) continue;
      const sole = soleIdentifier(expression);
      const source = sole === undefined ? undefined : current.find((c) => c.name === sole);
      if (source && source.type === column.type && values.has(source.id)) {
        next.set(column.id, values.get(source.id)!);
      } else {
        const name = `__tandem_v${k}_${i}`;
        computed.push({ name, sql: `CAST((${expression}) AS ${castTypeOf(column.type)}) AS ${ident(name)}` });
        next.set(column.id, { kind: 'computed', name });
      }
      if (!writesItself.has(column.physical)) {
        writes.delete(column.physical);
        writes.set(column.physical, next.get(column.id)!);
      }
    }
    if (computed.length) addLevel(walk, current, values, computed);
    for (const c of stage.columns) if (!next.has(c.id)) next.set(c.id, values.get(c.id) ?? { kind: 'row', physical: c.physical });
    values = next;
    current = stage.columns;
  });

  if (writes.size === 0) return undefined;
  const outputs = [...writes].map(([physical, ref]) => `${refSql(ref)} AS ${ident(physical)}`);
  const from = walk.level === undefined ? '' : ` FROM (${walk.level}) AS ${LEVEL_ALIAS}`;
  return { targets: [...writes.keys()], lateral: `LATERAL (SELECT ${outputs.join(', ')}${from}) AS ${UP_ALIAS}` };
}

/**
 * Wrap the level so far in one that also computes this stage's values: the expressions see only
 * the stage's column names (bound innermost, so they win over any outer name), each bound to its
 * current value; the values computed before are carried through under their own names.
 */
function addLevel(walk: Walk, columns: StageColumn[], values: Map<number, Ref>, computed: { name: string; sql: string }[]): void {
  const bindings = columns.map((c) => `${refSql(values.get(c.id) ?? { kind: 'row', physical: c.physical })} AS ${ident(c.name)}`);
  const carried = walk.computed.map((n) => `${LEVEL_ALIAS}.${ident(n)}`);
  // The trigger's expressions may read the row being written as NEW.<physical> (add_column's
  // default for old rows does): the same row is offered under that name.
  const newRow = computed.some((c) => usesNew(c.sql)) ? `, LATERAL (SELECT ${UP_ROW_ALIAS}.*) AS "new"` : '';
  const stage = `LATERAL (SELECT ${computed.map((c) => c.sql).join(', ')} FROM (SELECT ${bindings.join(', ')}) AS ${BIND_ALIAS}${newRow}) AS ${STAGE_ALIAS}`;
  const outputs = [...carried, ...computed.map((c) => `${STAGE_ALIAS}.${ident(c.name)}`)];
  walk.level = walk.level === undefined ? `SELECT ${outputs.join(', ')} FROM ${stage}` : `SELECT ${outputs.join(', ')} FROM (${walk.level}) AS ${LEVEL_ALIAS} CROSS JOIN ${stage}`;
  walk.computed.push(...computed.map((c) => c.name));
}

/** Whether an expression may name the trigger's NEW record (any token `new`; every one if it cannot be scanned). */
function usesNew(sql: string): boolean {
  const names = nameTokens(sql);
  return names === undefined || names.includes('new');
}
