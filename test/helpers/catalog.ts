import type pg from 'pg';
import { STATE_FUNCTIONS } from '../../src/state/schema-ddl.js';

/** SQL condition: `column` (a pg_proc.proname) is not one of the state schema's own functions. */
export function notStateFunction(column = 'p.proname'): string {
  return `${column} <> ALL (ARRAY[${STATE_FUNCTIONS.map((f) => `'${f}'`).join(', ')}]::name[])`;
}

/**
 * Everything about a schema that a rollback must restore: columns (name, type, nullability,
 * default, position among live columns, collation, storage, statistics target, column privileges),
 * constraints, indexes, triggers, views, functions, the list of schemas, and per relation its
 * privileges, owner, replica identity, storage parameters, row security and persistence. Dropped
 * columns leave no trace here, as in pg_dump.
 */
export async function catalogSnapshot(client: pg.Client, schema = 'public'): Promise<Record<string, unknown>> {
  const q = async (sql: string) => (await client.query(sql, [schema])).rows;
  return {
    schemas: await client
      .query(`SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' AND nspname <> 'tandem' ORDER BY 1`)
      .then((r) => r.rows),
    columns: await q(`
      SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS default,
             a.attidentity, a.attgenerated, col_description(c.oid, a.attnum) AS comment,
             a.attcollation::regcollation::text AS collation, a.attstorage, a.attacl::text AS privileges,
             row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS position
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v')
       ORDER BY c.relname, a.attnum`),
    constraints: await q(`
      SELECT c.relname, con.conname, pg_get_constraintdef(con.oid) AS def, con.convalidated
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 ORDER BY 1, 2`),
    indexes: await q(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1, 2`),
    triggers: await q(`
      SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) AS def
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY 1, 2`),
    relations: await q(`
      SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') AS comment,
             c.relacl::text AS privileges, pg_get_userbyid(c.relowner) AS owner, c.relreplident AS replica_identity,
             (SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS replica_identity_index,
             (SELECT array_agg(o ORDER BY o) FROM unnest(c.reloptions) o) AS storage_parameters, c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
             c.relpersistence AS persistence
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`),
    schemaPrivileges: await q(`SELECT nspname, nspacl::text AS privileges, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1`),
    views: await q(`SELECT viewname, definition FROM pg_views WHERE schemaname = $1 ORDER BY 1`),
    functions: await client
      .query(`SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ($1, 'tandem') AND ${notStateFunction()} ORDER BY 1, 2`, [
        schema,
      ])
      .then((r) => r.rows),
  };
}
