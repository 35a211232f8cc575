import { UP_ALIAS, UP_ROW_ALIAS } from '../plan/compose-up.js';
import { ident, literal, qualified } from '../sql/ident.js';

/**
 * The SQL of `tandem verify` for one keyed table, pure (snapshot-tested in test/unit). Key values
 * travel as text parameters cast to the key's types; a chunk is the key range (start, end], a
 * NULL start being the table's beginning and a NULL end its end.
 */
export interface VerifyTable {
  schema: string;
  table: string;
  /** ['ctid'] / ['tid'] for a table without a key (chunks are then ranges of pages). */
  keyColumns: string[];
  keyTypes: string[];
  byCtid?: boolean;
  markerColumn: string;
  /** The physical new columns `up` fills. */
  targets: string[];
  /** `LATERAL (…) AS __tandem_up` over `__tandem_row` (BackfillStep.up.lateral). */
  lateral: string;
  /** Physical columns that are neither targets, nor the marker, nor generated: what the new version's `down` writes, among others. */
  otherColumns: string[];
}

const ROW = UP_ROW_ALIAS;
const UP = UP_ALIAS;

function keyList(t: VerifyTable, alias?: string): string {
  return t.keyColumns.map((k) => (alias ? `${alias}.${ident(k)}` : ident(k))).join(', ');
}

function keyParams(t: VerifyTable, first: number): string {
  return t.keyTypes.map((type, i) => `$${first + i}::${type}`).join(', ');
}

function keyAsText(t: VerifyTable, alias: string): string {
  return `array[${t.keyColumns.map((k) => `${alias}.${ident(k)}::text`).join(', ')}]`;
}

/** WHERE of a chunk; the parameters are the start key (when `hasStart`) then the end key (when `hasEnd`). */
export function rangeWhere(t: VerifyTable, alias: string, hasStart: boolean, hasEnd: boolean, first = 1): string {
  const parts: string[] = [];
  const keys = keyList(t, alias);
  if (hasStart) parts.push(`(${keys}) > (${keyParams(t, first)})`);
  if (hasEnd) parts.push(`(${keys}) <= (${keyParams(t, first + (hasStart ? t.keyColumns.length : 0))})`);
  return parts.length ? parts.join(' AND ') : 'true';
}

/** The chunk's last key: the `$n`-th key after the start (an index-only walk of the key). */
export function chunkEndSql(t: VerifyTable, hasStart: boolean): string {
  const n = hasStart ? t.keyColumns.length + 1 : 1;
  return `SELECT ${keyAsText(t, 'k')} AS key FROM ${qualified(t.schema, t.table)} AS k
   WHERE ${rangeWhere(t, 'k', hasStart, false)} ORDER BY ${keyList(t, 'k')} OFFSET $${n}::bigint - 1 LIMIT 1`;
}

/** A row is in sync when its marker is true and every new column IS NOT DISTINCT FROM what `up` computes. */
function upHolds(t: VerifyTable): string {
  return [`${ROW}.${ident(t.markerColumn)} IS TRUE`, ...t.targets.map((c) => `${ROW}.${ident(c)} IS NOT DISTINCT FROM ${UP}.${ident(c)}`)].join(' AND ');
}

/**
 * The chunk's check, one statement (one snapshot): its row count and how many of its rows do not
 * hold up(old) — compared value by value with IS NOT DISTINCT FROM, in the columns' own types.
 * With `checksums`, also md5 checksums in key order of the stored new columns (with the marker)
 * and of what `up` computes (with `true`), kept with the chunk as a record; equal when every row
 * holds. They cost about seven times the comparison (text output, a sort and a string per
 * chunk: 700 ms against 95 ms per 100 000 rows measured on one run), hence optional.
 */
export function chunkCheckSql(t: VerifyTable, hasStart: boolean, hasEnd: boolean, checksums: boolean): string {
  const stored = `ROW(${[...t.targets.map((c) => `${ROW}.${ident(c)}`), `${ROW}.${ident(t.markerColumn)} IS TRUE`].join(', ')})::text`;
  const computed = `ROW(${[...t.targets.map((c) => `${UP}.${ident(c)}`), 'true'].join(', ')})::text`;
  const order = keyList(t, ROW);
  const sums = checksums
    ? `md5(coalesce(string_agg(${stored}, ',' ORDER BY ${order}), '')) AS stored,
          md5(coalesce(string_agg(${computed}, ',' ORDER BY ${order}), '')) AS computed`
    : 'NULL::text AS stored, NULL::text AS computed';
  return `SELECT count(*)::bigint AS rows, count(*) FILTER (WHERE NOT (${upHolds(t)}))::bigint AS differing,
          ${sums}
     FROM ${qualified(t.schema, t.table)} AS ${ROW} CROSS JOIN ${t.lateral}
    WHERE ${rangeWhere(t, ROW, hasStart, hasEnd)}`;
}

/** The rows of a chunk that do not hold up(old), with the new columns that differ ($last: how many at most). */
export function differingRowsSql(t: VerifyTable, hasStart: boolean, hasEnd: boolean): string {
  const limit = 1 + (hasStart ? t.keyColumns.length : 0) + (hasEnd ? t.keyColumns.length : 0);
  const columns = t.targets.map((c) => `CASE WHEN ${ROW}.${ident(c)} IS NOT DISTINCT FROM ${UP}.${ident(c)} THEN NULL ELSE ${literal(c)} END`);
  return `SELECT ${keyAsText(t, ROW)} AS key, ${ROW}.${ident(t.markerColumn)} IS TRUE AS synced,
          array_remove(array[${columns.join(', ')}]::text[], NULL) AS columns,
          ROW(${t.targets.map((c) => `${ROW}.${ident(c)}`).join(', ')})::text AS stored,
          ROW(${t.targets.map((c) => `${UP}.${ident(c)}`).join(', ')})::text AS computed
     FROM ${qualified(t.schema, t.table)} AS ${ROW} CROSS JOIN ${t.lateral}
    WHERE ${rangeWhere(t, ROW, hasStart, hasEnd)} AND NOT (${upHolds(t)})
    ORDER BY ${keyList(t, ROW)} LIMIT $${limit}`;
}

/** Every key of a chunk, in order (to split a chunk whose recomputation fails on some row). */
export function chunkKeysSql(t: VerifyTable, hasStart: boolean, hasEnd: boolean): string {
  return `SELECT ${keyAsText(t, 'k')} AS key FROM ${qualified(t.schema, t.table)} AS k
    WHERE ${rangeWhere(t, 'k', hasStart, hasEnd)} ORDER BY ${keyList(t, 'k')}`;
}

/**
 * The new version's side (see verify.ts): for the given keys ($1, text[] of the keys as JSON),
 * lock the rows, note whether up(old) holds now and the other columns as stored, write the new
 * columns back as the new version (the sync trigger recomputes the old columns from them with
 * `down`; naming the marker too makes it fire whatever columns it watches), and return whether
 * the other columns came out the same. Run inside a transaction that is always rolled back. The key returned is the one read before (a ctid changes with the update).
 */
export function newVersionFixedPointSql(t: VerifyTable): string {
  const table = qualified(t.schema, t.table);
  const keysFromJson = t.keyColumns.map((k, i) => `(j.key ->> ${i})::${t.keyTypes[i]} AS ${ident(k)}`).join(', ');
  const same = (a: string, b: string) => t.keyColumns.map((k) => `${a}.${ident(k)} = ${b}.${ident(k)}`).join(' AND ');
  const others = (alias: string) => `ROW(${t.otherColumns.map((c) => `${alias}.${ident(c)}`).join(', ')})::text`;
  return `WITH wanted AS (
      SELECT ${keysFromJson} FROM jsonb_array_elements($1::jsonb) AS j (key)
    ), before AS (
      SELECT ${keyList(t, ROW)}, ${keyAsText(t, ROW)} AS key, ${upHolds(t)} AS up_holds, ${others(ROW)} AS others
        FROM ${table} AS ${ROW} CROSS JOIN ${t.lateral}
       WHERE (${keyList(t, ROW)}) IN (SELECT ${keyList(t)} FROM wanted)
       FOR UPDATE OF ${ROW}
    ), rewritten AS (
      UPDATE ${table} AS t SET ${[...t.targets, t.markerColumn].map((c) => `${ident(c)} = t.${ident(c)}`).join(', ')}
        FROM before b WHERE ${same('t', 'b')} AND NOT b.up_holds
      RETURNING b.key, ${others('t')} AS others
    )
    SELECT b.key, b.up_holds, r.others IS NOT DISTINCT FROM b.others AS down_holds
      FROM before b LEFT JOIN rewritten r ON r.key = b.key`;
}
