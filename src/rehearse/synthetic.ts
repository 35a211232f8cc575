import type { ColumnStats } from '../estimate/facts.js';
import { ident, literal } from '../sql/ident.js';

/**
 * Synthetic rows that look like the live ones to the planner and the executor: per column, the
 * live null fraction, number of distinct values, average width, most common values (with their
 * frequencies) and histogram range (pg_stats), generated set-based by one
 * `INSERT … SELECT … FROM generate_series(…) g` per chunk. Pure: SQL text only, no database.
 *
 * Every expression is a function of the row number `g` and of random() (the session's setseed
 * makes a run repeatable). Columns in a primary key or unique constraint get distinct values
 * derived from `g`; a foreign key column gets a key the parent's generator produced.
 */

export interface SyntheticColumn {
  name: string;
  /** format_type() of the column, e.g. `character varying(40)`, `integer[]`. */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Identity, serial-like (nextval) default or generated column: left to the server. */
  serverGenerated: boolean;
  /** Enum type: values come from enum_range() when there are no statistics. */
  isEnum: boolean;
  /** Part of a primary key or unique constraint as its first column: values must be distinct. */
  distinct: boolean;
  stats: ColumnStats | undefined;
  /** Single-column foreign key: a key the parent's generator produced for a row number in 1…parentRows. */
  references?: { column: SyntheticColumn; parentRows: number; parentKeyFromSequence: boolean };
}

/** What a generated column holds for a row, and why, when it is not what the statistics say. */
export interface ColumnPlan {
  column: string;
  /** null: the column is left out of the INSERT (the server fills it: identity, sequence, default). */
  expression: string | null;
  note?: string;
}

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);
const FLOAT_TYPES = new Set(['real', 'double precision']);
const TEXT_TYPES = new Set(['text', 'character varying', 'character', 'citext', 'name']);
const TIME_TYPES = new Set(['timestamp without time zone', 'timestamp with time zone', 'date']);

/** `character varying(40)` → { base: 'character varying', length: 40 }. */
export function baseType(type: string): { base: string; length: number | undefined; array: boolean } {
  const array = type.endsWith('[]');
  const t = array ? type.slice(0, -2) : type;
  const m = /^(.*?)\((\d+)(?:,\s*\d+)?\)(.*)$/.exec(t);
  if (!m) return { base: t, length: undefined, array };
  return { base: `${m[1]}${m[3]}`.trim(), length: Number(m[2]), array };
}

/** How many distinct values the column has (pg_stats n_distinct resolved against the row count). */
export function distinctCount(stats: ColumnStats | undefined, rows: number): number {
  if (!stats) return Math.max(1, rows);
  const n = stats.nDistinct < 0 ? -stats.nDistinct * rows : stats.nDistinct;
  return Math.max(1, Math.round(n));
}

/** Bytes of text to generate for a value of this width (pg_stats avg_width includes the 1-byte header). */
function textWidth(stats: ColumnStats | undefined, length: number | undefined): number {
  const w = Math.max(1, Math.min(2_000, (stats?.avgWidth ?? 17) - 1));
  return length !== undefined ? Math.max(1, Math.min(w, length)) : w;
}

/** A text value of `width` characters, different for each distinct `idx`. */
function textOf(idx: string, width: number): string {
  const repeats = Math.ceil(width / 32) + 1;
  return `left(repeat(md5((${idx})::text), ${repeats}), ${width})`;
}

/**
 * A value that is the same for the same `idx` and different for different ones: what a primary or
 * unique key column holds for row `idx`, and what a referencing column recomputes from it.
 */
export function keyValue(col: SyntheticColumn, idx: string): string | undefined {
  const { base, length } = baseType(col.type);
  const low = histogramLow(col);
  if (INTEGER_TYPES.has(base) || base === 'numeric') return `((${idx}) + ${low !== undefined && /^-?\d+$/.test(low) ? `${BigInt(low) - 1n}` : '0'})::${col.type}`;
  if (TEXT_TYPES.has(base)) {
    const width = Math.max(textWidth(col.stats, length), Math.min(length ?? 64, 12));
    return `(lpad((${idx})::text, ${Math.min(width, 12)}, '0') || ${textOf(idx, Math.max(0, width - 12) || 1)})::${col.type}`;
  }
  if (base === 'uuid') return `md5((${idx})::text)::uuid`;
  if (TIME_TYPES.has(base)) return `(${low !== undefined ? `${literal(low)}::${col.type}` : `'2020-01-01'::${col.type}`} + (${idx}) * interval '1 second')::${col.type}`;
  if (base === 'bytea') return `decode(md5((${idx})::text), 'hex')`;
  return undefined;
}

function histogramLow(col: SyntheticColumn): string | undefined {
  return col.stats?.histogramBounds?.[0] ?? undefined;
}
function histogramHigh(col: SyntheticColumn): string | undefined {
  const h = col.stats?.histogramBounds;
  return h && h.length > 0 ? h[h.length - 1] : undefined;
}

/** A value for a column with no distinctness requirement, from its range and distinct count. */
function otherValue(col: SyntheticColumn, rows: number): string | undefined {
  const { base, length, array } = baseType(col.type);
  const mcvCount = col.stats?.mostCommonVals?.length ?? 0;
  const distinct = Math.max(1, distinctCount(col.stats, rows) - mcvCount);
  const idx = distinct >= rows ? 'g' : `floor(random() * ${distinct})::bigint`;
  const lo = histogramLow(col);
  const hi = histogramHigh(col);
  if (array) return undefined;
  if (INTEGER_TYPES.has(base) || base === 'numeric' || FLOAT_TYPES.has(base)) {
    if (lo === undefined || hi === undefined) return `(random() * 1000)::${col.type}`;
    const span = `(${literal(hi)}::numeric - ${literal(lo)}::numeric)`;
    return INTEGER_TYPES.has(base)
      ? `(${literal(lo)}::numeric + floor(random() * (${span} + 1)))::${col.type}`
      : `(${literal(lo)}::numeric + random()::numeric * ${span})::${col.type}`;
  }
  if (TEXT_TYPES.has(base)) return textValue(col, idx, distinct, length);
  if (base === 'boolean') return 'random() < 0.5';
  if (base === 'uuid') return distinct >= rows ? `md5(g::text || 'u')::uuid` : `md5((${idx})::text)::uuid`;
  if (TIME_TYPES.has(base)) {
    if (lo === undefined || hi === undefined || lo === '-infinity' || hi === 'infinity') return `(now() - random() * interval '365 days')::${col.type}`;
    return `(${literal(lo)}::timestamptz + random() * (${literal(hi)}::timestamptz - ${literal(lo)}::timestamptz))::${col.type}`;
  }
  if (base === 'jsonb' || base === 'json') {
    const width = Math.max(1, (col.stats?.avgWidth ?? 24) - 10);
    return `jsonb_build_object('v', ${textOf(idx, width)})::${col.type}`;
  }
  if (base === 'bytea') return `decode(repeat(md5((${idx})::text), ${Math.max(1, Math.ceil((col.stats?.avgWidth ?? 17) / 16))}), 'hex')`;
  if (base === 'interval') return `random() * interval '1 day'`;
  if (col.isEnum) return `(enum_range(NULL::${col.type}))[1 + floor(random() * array_length(enum_range(NULL::${col.type}), 1))::int]`;
  return undefined;
}

/**
 * A text value: as the live values look when the histogram tells (numbers kept as numbers, so an
 * `up` that casts them still works), else a value of the live width.
 */
function textValue(col: SyntheticColumn, idx: string, distinct: number, length: number | undefined): string {
  const bounds = col.stats?.histogramBounds ?? [];
  const width = textWidth(col.stats, length);
  if (bounds.length < 2) return `${textOf(idx, width)}::${col.type}`;
  const numbers = [...bounds, ...(col.stats?.mostCommonVals ?? [])];
  if (numbers.every((b) => /^-?\d{1,15}$/.test(b))) {
    const lo = Math.min(...numbers.map(Number));
    const hi = Math.max(...numbers.map(Number));
    return `(${lo} + floor(random() * ${hi - lo + 1}))::bigint::text::${col.type}`;
  }
  const pick = `(ARRAY[${bounds.map(literal).join(', ')}]::text[])[1 + floor(random() * ${bounds.length})::int]`;
  // Few distinct values: the live ones; many: a live value made distinct by a suffix (cut to the column's length).
  if (distinct <= bounds.length * 2) return `${pick}::${col.type}`;
  const suffixed = `${pick} || (${idx})::text`;
  return `${length !== undefined ? `left(${suffixed}, ${length})` : suffixed}::${col.type}`;
}

/** Pick one of the most common values with its live frequency (one random() per row). */
function mcvPick(col: SyntheticColumn): { expr: string; share: number } | undefined {
  const vals = col.stats?.mostCommonVals;
  const freqs = col.stats?.mostCommonFreqs;
  if (!vals || !freqs || vals.length === 0 || vals.length !== freqs.length) return undefined;
  const sum = freqs.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) return undefined;
  // width_bucket over the cumulative frequencies [0, f1, f1+f2, …] returns 1…k.
  const bounds: number[] = [0];
  for (let i = 0; i < freqs.length - 1; i++) bounds.push(bounds[i]! + freqs[i]! / sum);
  const array = `ARRAY[${vals.map(literal).join(', ')}]::text[]`;
  const expr = `(${array})[width_bucket(random(), ARRAY[${bounds.map((b) => b.toFixed(6)).join(', ')}]::float8[])]::${col.type}`;
  return { expr, share: sum };
}

/** The expression of one column, or null to leave it to the server. */
export function columnPlan(col: SyntheticColumn, rows: number): ColumnPlan {
  if (col.serverGenerated) return { column: col.name, expression: null };
  const nullFrac = col.notNull ? 0 : (col.stats?.nullFrac ?? 0);
  const withNulls = (expr: string) => (nullFrac > 0 ? `CASE WHEN random() < ${nullFrac.toFixed(6)} THEN NULL ELSE ${expr} END` : expr);
  if (col.references) {
    const parent = col.references;
    const idx = `(1 + floor(random() * ${Math.max(1, parent.parentRows)}))::bigint`;
    const v = parent.parentKeyFromSequence ? `${idx}::${col.type}` : keyValue(parent.column, idx);
    if (v && parent.parentRows > 0) return { column: col.name, expression: withNulls(v) };
    if (!col.notNull) return { column: col.name, expression: 'NULL', note: 'foreign key to a parent with no generated key: NULL' };
  }
  if (col.distinct) {
    const v = keyValue(col, 'g');
    if (v) return { column: col.name, expression: v };
    return { column: col.name, expression: null, note: `no distinct-value generator for type ${col.type}: left to its default` };
  }
  const other = otherValue(col, rows);
  const mcv = mcvPick(col);
  const nonNull = 1 - nullFrac;
  let value: string | undefined;
  if (mcv && other && nonNull > 0 && mcv.share / nonNull < 0.999) {
    value = `CASE WHEN random() < ${Math.min(1, mcv.share / nonNull).toFixed(6)} THEN ${mcv.expr} ELSE ${other} END`;
  } else value = mcv?.expr ?? other;
  if (value) return { column: col.name, expression: withNulls(value) };
  if (col.hasDefault) return { column: col.name, expression: null, note: `no generator for type ${col.type}: its default` };
  if (!col.notNull) return { column: col.name, expression: 'NULL', note: `no generator for type ${col.type}: NULL` };
  return { column: col.name, expression: null, note: `no generator for NOT NULL type ${col.type} without a default: the insert will fail` };
}

/** One chunk of synthetic rows, rows from+1 … to, into `table` (already quoted). */
export function insertSql(table: string, plans: ColumnPlan[], from: number, to: number): string {
  const given = plans.filter((p) => p.expression !== null);
  if (given.length === 0) return `INSERT INTO ${table} SELECT FROM generate_series(${from + 1}, ${to}) g`;
  return `INSERT INTO ${table} (${given.map((p) => ident(p.column)).join(', ')})
    SELECT ${given.map((p) => p.expression).join(',\n           ')}
      FROM generate_series(${from + 1}::bigint, ${to}::bigint) g`;
}
