import type pg from 'pg';
import { parseSqlFile } from '../../src/convert/parse.js';
import { listSqlHistory } from '../../src/convert/history.js';

/**
 * What two databases must agree on after the same history: the objects of one schema as the
 * catalog describes them, each as a sorted list of lines. Tandem's own objects live elsewhere
 * (schema `tandem`, the version schemas) and are not read.
 *
 * Left out on purpose: the column order (a column Tandem changes through a shadow column ends up
 * last: README "Not yet"), and PostgreSQL 18's NOT NULL constraints of pg_constraint (their names
 * follow the column's name when it was made NOT NULL; nullability itself is compared per column).
 */
export interface SchemaSnapshot {
  /** table.column type [NOT NULL] [DEFAULT = value, for a constant default; else its text] … */
  columns: string[];
  /**
   * The defaults as PostgreSQL prints them. A type changed through Tandem's shadow column keeps
   * its default's value but prints with an explicit cast (`(697)::bigint` where ALTER TYPE
   * leaves `697`: src/operations/shadow.ts sets `DEFAULT (expr)::type`): compared apart.
   */
  defaultTexts: string[];
  constraints: string[];
  indexes: string[];
  views: string[];
  functions: string[];
  triggers: string[];
  types: string[];
  sequences: string[];
  extensions: string[];
  comments: string[];
  /**
   * Per table: the row count and a digest of the rows as JSON objects (column order does not
   * matter), without `updated_at`: the history's triggers set it to now() on every UPDATE, and
   * Tandem's backfill is an UPDATE (the applications' triggers fire on it).
   */
  data: string[];
}

/** A constant default (no function call) by its value, so that `697` and `(697)::bigint` compare equal; others by their text. */
async function withDefaultValue(client: pg.Client, line: string): Promise<string> {
  const m = / DEFAULT (.*?)( IDENTITY .*| GENERATED .*| COLLATE .*)?$/.exec(line);
  if (!m) return line;
  const expr = m[1]!;
  if (/\b[a-z_]+\(/i.test(expr.replace(/::[a-z ]+\(\d+(,\d+)?\)/gi, ''))) return line;
  const r = await client.query<{ v: string | null; t: string }>(`SELECT (${expr})::text AS v, pg_typeof(${expr})::text AS t`);
  return `${line.slice(0, m.index)} DEFAULT = ${JSON.stringify(r.rows[0]!.v)}${m[2] ?? ''}`;
}

async function mapInOrder<T, U>(xs: readonly T[], f: (x: T) => Promise<U>): Promise<U[]> {
  const out: U[] = [];
  for (const x of xs) out.push(await f(x));
  return out;
}

async function lines(client: pg.Client, sql: string, schema: string): Promise<string[]> {
  const r = await client.query<{ line: string }>(sql, [schema]);
  return r.rows.map((row) => row.line).sort();
}

/** Objects that belong to an extension (citext's functions, types…) are the extension's. */
const NOT_EXTENSION_MEMBER = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${classid}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

export async function schemaSnapshot(client: pg.Client, schema = 'public'): Promise<SchemaSnapshot> {
  // pg_get_* print names qualified only when not on the search_path: read with the schema alone on it.
  await client.query(`SELECT set_config('search_path', $1, false)`, [`"${schema.replace(/"/g, '""')}"`]);
  const tables = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`,
    [schema],
  );
  const data: string[] = [];
  for (const { relname } of tables.rows) {
    const q = `"${relname.replace(/"/g, '""')}"`;
    const r = await client.query<{ n: string; digest: string }>(
      `SELECT count(*)::text AS n, md5(coalesce(string_agg((to_jsonb(x) - 'updated_at')::text, E'\\n' ORDER BY (to_jsonb(x) - 'updated_at')::text), '')) AS digest FROM ${q} x`,
    );
    data.push(`${relname}: ${r.rows[0]!.n} rows ${r.rows[0]!.digest}`);
  }
  const columns = await lines(
    client,
    `SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
              || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') || CASE a.attidentity WHEN '' THEN '' ELSE ' IDENTITY ' || a.attidentity::text END
              || CASE a.attgenerated WHEN '' THEN '' ELSE ' GENERATED ' || a.attgenerated::text END || coalesce(' COLLATE ' || co.collname, '') AS line
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> (SELECT typcollation FROM pg_type WHERE oid = a.atttypid)
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped`,
    schema,
  );
  return {
    columns: await mapInOrder(columns, (line) => withDefaultValue(client, line)),
    defaultTexts: columns.filter((l) => l.includes(' DEFAULT ')),
    constraints: await lines(
      client,
      `SELECT c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid) || CASE WHEN k.convalidated THEN '' ELSE ' (not validated)' END AS line
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND k.contype <> 'n'`,
      schema,
    ),
    indexes: await lines(
      client,
      `SELECT pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END AS line
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
      schema,
    ),
    views: await lines(
      client,
      `SELECT c.relname || ': ' || pg_get_viewdef(c.oid) AS line FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')`,
      schema,
    ),
    functions: await lines(
      client,
      `SELECT pg_get_functiondef(p.oid) AS line FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.prokind IN ('f', 'p') AND ${NOT_EXTENSION_MEMBER('pg_proc', 'p.oid')}`,
      schema,
    ),
    triggers: await lines(
      client,
      `SELECT pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'O' THEN '' ELSE ' (' || t.tgenabled::text || ')' END AS line
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal`,
      schema,
    ),
    types: await lines(
      client,
      `SELECT t.typname || ' ' || t.typtype::text || coalesce(' (' || (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')', '') AS line
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'c') AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
          AND ${NOT_EXTENSION_MEMBER('pg_type', 't.oid')}`,
      schema,
    ),
    sequences: await lines(
      client,
      `SELECT c.relname || coalesce(' owned by ' || (SELECT oc.relname || '.' || a.attname FROM pg_depend d JOIN pg_class oc ON oc.oid = d.refobjid
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i') LIMIT 1), '') AS line
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'S'`,
      schema,
    ),
    extensions: await lines(client, `SELECT e.extname AS line FROM pg_extension e WHERE $1::text IS NOT NULL`, schema),
    comments: await lines(
      client,
      `SELECT c.relname || coalesce('.' || a.attname, '') || ': ' || d.description AS line
         FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
        WHERE n.nspname = $1`,
      schema,
    ),
    data,
  };
}

/**
 * Applies a directory of SQL migrations as a plain SQL tool (psql -f, Flyway…) would: every file in
 * order, each statement on its own (so BEGIN/COMMIT and CONCURRENTLY behave as they do there).
 */
export async function applySqlHistory(client: pg.Client, dir: string): Promise<number> {
  let statements = 0;
  for (const src of await listSqlHistory(dir)) {
    const parsed = await parseSqlFile(src.file);
    for (const s of parsed.statements) {
      try {
        await client.query(s.text);
      } catch (err) {
        throw new Error(`${src.file}:${s.line}: ${(err as Error).message}\n${s.text}`, { cause: err });
      }
      statements++;
    }
  }
  return statements;
}
