/**
 * Does `ALTER COLUMN … TYPE` rewrite the table? PostgreSQL skips the rewrite (and the index
 * rebuild) when the change is binary-compatible and needs no per-row check:
 *   varchar(n) → varchar(m ≥ n), varchar → text, text → varchar (no limit), numeric(p,s) →
 *   numeric(q ≥ p, s), numeric(p,s) → numeric, varbit widening, timestamp/time/interval precision
 *   increase, cidr → inet, xml → text; timestamp ↔ timestamptz from 12 when TimeZone is UTC.
 * Everything else (int → bigint, text → integer, shrinking a length, any non-trivial USING) reads
 * and rewrites every row and every index under ACCESS EXCLUSIVE.
 */
import type { ColumnDef, Node } from 'libpg-query';
import { as, names, normalizeTypeName, typeText, type NormalType, type RelName } from './ast.js';
import type { CatalogColumn, FileView } from './types.js';

export interface TypeChange {
  column: string;
  to: NormalType;
  /** The old type, when known (catalog, or the file added the column). */
  from?: NormalType;
  verdict: 'no-rewrite' | 'rewrite' | 'maybe';
  reason: string;
  location?: number;
}

/** Target types that some old type reaches without a rewrite. */
const MAYBE_FREE = new Set(['text', 'varchar', 'numeric', 'varbit', 'timestamp', 'timestamptz', 'time', 'timetz', 'interval', 'inet']);

/** Built-in types no other type converts to without a rewrite. */
const ALWAYS_REWRITE = new Set([
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'bool',
  'uuid',
  'date',
  'json',
  'jsonb',
  'bytea',
  'money',
  'bpchar',
  'bit',
  'oid',
  'tsvector',
  'point',
  'cidr',
  'macaddr',
  'macaddr8',
  'int4range',
  'int8range',
  'tstzrange',
  'daterange',
]);

/** Binary-coercible pairs (pg_cast.castmethod = 'b') that matter for columns. */
const BINARY: ReadonlySet<string> = new Set(['varchar>text', 'text>varchar', 'cidr>inet', 'xml>text', 'xml>varchar', 'bit>varbit', 'varbit>bit']);

const LENGTH_TYPES = new Set(['varchar', 'varbit']);
const PRECISION_TYPES = new Set(['timestamp', 'timestamptz', 'time', 'timetz']);

/** pg_attribute's (typname, atttypmod) as a NormalType. */
export function catalogType(col: CatalogColumn): NormalType {
  const array = col.typname.startsWith('_');
  const name = array ? col.typname.slice(1) : col.typname;
  const m = col.typmod;
  let mods: number[] = [];
  if (m >= 0) {
    if (name === 'varchar' || name === 'bpchar') mods = m >= 4 ? [m - 4] : [];
    else if (name === 'numeric') mods = m >= 4 ? [((m - 4) >> 16) & 0xffff, (m - 4) & 0xffff] : [];
    else if (PRECISION_TYPES.has(name) || name === 'varbit' || name === 'bit') mods = [m];
    else mods = [m];
  }
  return { name, mods, array };
}

function sameMods(a: NormalType, b: NormalType): boolean {
  const norm = (t: NormalType) => (t.name === 'numeric' && t.mods.length === 1 ? [t.mods[0]!, 0] : t.mods);
  const x = norm(a);
  const y = norm(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Compares two known types. */
export function compareTypes(from: NormalType, to: NormalType, pgVersion: number): { verdict: TypeChange['verdict']; reason: string } {
  const f = typeText(from);
  const t = typeText(to);
  const free = (why: string) => ({ verdict: 'no-rewrite' as const, reason: `${f} → ${t} ${why}: no rewrite` });
  const rewrite = (why: string) => ({ verdict: 'rewrite' as const, reason: `${f} → ${t} ${why}` });
  if (from.array !== to.array) return rewrite('converts every value');
  if (from.name === to.name) {
    if (sameMods(from, to)) return free('is the same type');
    if (LENGTH_TYPES.has(to.name)) {
      if (to.mods.length === 0) return free('removes the length limit');
      if (from.mods.length > 0 && to.mods[0]! >= from.mods[0]!) return free('widens the limit');
      return rewrite('shortens the limit: every row is checked and the table rewritten');
    }
    if (to.name === 'numeric') {
      if (to.mods.length === 0) return free('removes the precision limit');
      if (from.mods.length === 0) return rewrite('adds a precision limit: every row is checked and rewritten');
      const [fp, fs = 0] = from.mods;
      const [tp, ts = 0] = to.mods;
      if (fs === ts && tp! >= fp!) return free('increases the precision with the same scale');
      return rewrite(fs !== ts ? 'changes the scale: every value is rewritten' : 'lowers the precision: every row is checked and rewritten');
    }
    if (PRECISION_TYPES.has(to.name)) {
      if (to.mods.length === 0) return free('removes the precision limit');
      const fp = from.mods.length ? from.mods[0]! : 6;
      if (to.mods[0]! >= fp) return free('increases the fractional-second precision');
      return rewrite('lowers the precision: every value is rounded and rewritten');
    }
    if (to.name === 'interval' && to.mods.length === 0) return free('removes the interval restriction');
    return rewrite('changes the type modifier: every row is rewritten');
  }
  if (BINARY.has(`${from.name}>${to.name}`)) {
    if (to.mods.length === 0) return free('is binary-compatible');
    return rewrite('is binary-compatible but the new length limit checks and rewrites every row');
  }
  if ((from.name === 'timestamp' && to.name === 'timestamptz') || (from.name === 'timestamptz' && to.name === 'timestamp')) {
    if (pgVersion >= 12) {
      return {
        verdict: 'maybe',
        reason: `${f} → ${t} skips the rewrite only when the session TimeZone is UTC (PostgreSQL 12+); in any other time zone every row is rewritten`,
      };
    }
    return rewrite('rewrites every row before PostgreSQL 12');
  }
  return rewrite('converts every value: the table and its indexes are rewritten');
}

/** A USING expression that is just the column (possibly cast to the new type) changes nothing. */
function trivialUsing(using: Node | undefined, column: string, to: NormalType): boolean {
  if (!using) return true;
  const isCol = (n: Node | undefined) => {
    const parts = names(as(n, 'ColumnRef')?.fields);
    return parts.length >= 1 && parts[parts.length - 1] === column;
  };
  if (isCol(using)) return true;
  const tc = as(using, 'TypeCast');
  if (tc && isCol(tc.arg)) {
    const castTo = normalizeTypeName(tc.typeName);
    return castTo !== undefined && castTo.name === to.name;
  }
  return false;
}

export function analyzeTypeChange(column: string, def: ColumnDef | undefined, rel: RelName, file: FileView): TypeChange | undefined {
  const to = normalizeTypeName(def?.typeName);
  if (!to) return undefined;
  const base: Pick<TypeChange, 'column' | 'to'> & { location?: number } = { column, to };
  if (def?.typeName?.location !== undefined) base.location = def.typeName.location;
  if (!trivialUsing(def?.raw_default, column, to)) {
    return { ...base, verdict: 'rewrite', reason: `the USING expression computes a new value for every row: the table and its indexes are rewritten` };
  }
  const from = file.columnType(rel, column);
  if (from) {
    const c = compareTypes(from, to, file.pgVersion);
    return { ...base, from, ...c };
  }
  if (MAYBE_FREE.has(to.name)) {
    return {
      ...base,
      verdict: 'maybe',
      reason: `whether changing to ${typeText(to)} rewrites depends on the current type (varchar widening, → text, numeric precision increase… do not); lint with --database-url to know`,
    };
  }
  if (ALWAYS_REWRITE.has(to.name)) {
    return { ...base, verdict: 'rewrite', reason: `changing a column to ${typeText(to)} converts every value: the table and its indexes are rewritten` };
  }
  return {
    ...base,
    verdict: 'maybe',
    reason: `${typeText(to)} is not a built-in type lint knows; unless it is a domain over the current type, the table and its indexes are rewritten (lint with --database-url to know)`,
  };
}
