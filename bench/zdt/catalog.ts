import type pg from 'pg';

/**
 * What a rollback must restore, read from pg_catalog: schemas, relations (kind, replica identity,
 * options, privileges, comment), live columns (name, position among live columns, type,
 * collation, NOT NULL, default, identity, generated, comment), constraints (definition,
 * validated), indexes (definition, valid), triggers, views, and the functions of `public` and of
 * `tandem` (where the sync trigger functions live). Dropped columns leave no trace here, as in
 * pg_dump. Tandem's own state tables are bookkeeping and are not part of it.
 */
export async function catalogSnapshot(client: pg.Client, schema = 'public'): Promise<Record<string, unknown[]>> {
  const q = async (sql: string) => (await client.query(sql, [schema])).rows;
  return {
    schemas: (await client.query(`SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1`)).rows,
    relations: await q(`
      SELECT c.relname, c.relkind, c.relreplident, c.reloptions::text AS options, c.relacl::text AS acl,
             obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`),
    columns: await q(`
      SELECT c.relname, a.attname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS position,
             format_type(a.atttypid, a.atttypmod) AS type, a.attcollation::regcollation::text AS collation, a.attnotnull,
             pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity, a.attgenerated, col_description(c.oid, a.attnum) AS comment
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       ORDER BY c.relname, a.attnum`),
    constraints: await q(`
      SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid) AS def, con.convalidated
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 ORDER BY 1, 2`),
    indexes: await q(`
      SELECT c.relname AS indexname, pg_get_indexdef(i.indexrelid) AS def, i.indisvalid, i.indisready, i.indisreplident
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 ORDER BY 1`),
    triggers: await q(`
      SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) AS def
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY 1, 2`),
    views: await q(`SELECT viewname, definition FROM pg_views WHERE schemaname = $1 ORDER BY 1`),
    functions: (
      await client.query(
        `SELECT n.nspname, p.proname, md5(pg_get_functiondef(p.oid)) AS def
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname IN ($1, 'tandem') ORDER BY 1, 2`,
        [schema],
      )
    ).rows,
  };
}

/** Human-readable differences (empty when identical). */
export function catalogDiff(before: Record<string, unknown[]>, after: Record<string, unknown[]>): string[] {
  const out: string[] = [];
  for (const key of Object.keys(before)) {
    const b = new Set((before[key] ?? []).map((r) => JSON.stringify(r)));
    const a = new Set((after[key] ?? []).map((r) => JSON.stringify(r)));
    for (const r of b) if (!a.has(r)) out.push(`${key}: missing after rollback ${r}`);
    for (const r of a) if (!b.has(r)) out.push(`${key}: new after rollback ${r}`);
  }
  return out;
}
