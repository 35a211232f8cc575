import type pg from 'pg';

/** What Tandem needs to know about the tables of one schema, read from pg_catalog. */
export interface CatalogColumn {
  name: string;
  attnum: number;
  type: string;
  notNull: boolean;
  default: string | null;
  identity: '' | 'a' | 'd';
  generated: '' | 's' | 'v';
  comment: string | null;
}

export interface CatalogIndex {
  name: string;
  unique: boolean;
  primary: boolean;
  valid: boolean;
  columns: string[];
  partial: boolean;
  expression: boolean;
  definition: string;
}

export interface CatalogConstraint {
  name: string;
  type: string;
  columns: string[];
  definition: string;
}

export interface CatalogTable {
  schema: string;
  name: string;
  oid: number;
  columns: CatalogColumn[];
  primaryKey: string[];
  indexes: CatalogIndex[];
  constraints: CatalogConstraint[];
  estimatedRows: number;
}

export async function readTables(client: pg.Client | pg.PoolClient, schema: string): Promise<Map<string, CatalogTable>> {
  const tables = await client.query<{ oid: number; name: string; reltuples: number }>(
    `SELECT c.oid::int AS oid, c.relname::text AS name, c.reltuples::float8 AS reltuples
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY c.relname`,
    [schema],
  );
  const columns = await client.query<CatalogColumn & { table_oid: number }>(
    `SELECT a.attrelid::int AS table_oid, a.attname::text AS name, a.attnum::int AS attnum,
            format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
            pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity AS identity, a.attgenerated AS generated,
            col_description(a.attrelid, a.attnum) AS comment
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [schema],
  );
  const indexes = await client.query<CatalogIndex & { table_oid: number }>(
    `SELECT i.indrelid::int AS table_oid, ic.relname::text AS name, i.indisunique AS unique, i.indisprimary AS primary,
            i.indisvalid AS valid, i.indpred IS NOT NULL AS partial, i.indexprs IS NOT NULL AS expression,
            pg_get_indexdef(i.indexrelid) AS definition,
            coalesce(array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      ORDER BY k.ord)::text[], '{}') AS columns
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1
      ORDER BY ic.relname`,
    [schema],
  );
  const constraints = await client.query<CatalogConstraint & { table_oid: number }>(
    `SELECT con.conrelid::int AS table_oid, con.conname::text AS name, con.contype::text AS type,
            pg_get_constraintdef(con.oid) AS definition,
            coalesce(array(SELECT a.attname FROM unnest(con.conkey) k(attnum)
                       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)::text[], '{}') AS columns
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1
      ORDER BY con.conname`,
    [schema],
  );
  const result = new Map<string, CatalogTable>();
  for (const t of tables.rows) {
    const idx = indexes.rows.filter((i) => i.table_oid === t.oid);
    result.set(t.name, {
      schema,
      name: t.name,
      oid: t.oid,
      columns: columns.rows.filter((c) => c.table_oid === t.oid).map(({ table_oid: _, ...c }) => c),
      primaryKey: idx.find((i) => i.primary)?.columns ?? [],
      indexes: idx.map(({ table_oid: _, ...i }) => i),
      constraints: constraints.rows.filter((c) => c.table_oid === t.oid).map(({ table_oid: _, ...c }) => c),
      estimatedRows: Math.max(0, t.reltuples),
    });
  }
  return result;
}

export async function schemaExists(client: pg.Client | pg.PoolClient, schema: string): Promise<boolean> {
  const r = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
  return r.rowCount === 1;
}

/** Schema-wide facts the operations check names and dependencies against. */
export interface SchemaInfo {
  /** Every relation name in the schema (tables, indexes, sequences, views…): they share one namespace. */
  relationNames: Set<string>;
  replicaIdentity: Map<string, { type: 'DEFAULT' | 'NOTHING' | 'FULL' | 'INDEX'; index: string | null }>;
  /** Per table: objects that would stop a DROP TABLE (foreign keys from other tables, views). */
  dependents: Map<string, string[]>;
  /** Per "table.column": objects outside the table that would stop a DROP COLUMN (views, foreign keys). */
  columnDependents: Map<string, string[]>;
}

export async function readSchemaInfo(client: pg.Client | pg.PoolClient, schema: string, ignoreViewSchemas: string[]): Promise<SchemaInfo> {
  const names = await client.query<{ relname: string }>(`SELECT c.relname::text AS relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`, [
    schema,
  ]);
  const replica = await client.query<{ relname: string; relreplident: string; index: string | null }>(
    `SELECT c.relname::text AS relname, c.relreplident::text AS relreplident,
            (SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisreplident) AS index
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`,
    [schema],
  );
  const deps = await client.query<{ relname: string; what: string }>(
    `SELECT t.relname::text AS relname, format('foreign key %I on %I.%I', con.conname, sn.nspname, src.relname) AS what
       FROM pg_constraint con
       JOIN pg_class t ON t.oid = con.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_class src ON src.oid = con.conrelid JOIN pg_namespace sn ON sn.oid = src.relnamespace
      WHERE con.contype = 'f' AND n.nspname = $1 AND con.conrelid <> con.confrelid
     UNION ALL
     SELECT DISTINCT t.relname::text, format('view %I.%I', vn.nspname, v.relname)
       FROM pg_depend d
       JOIN pg_rewrite rw ON rw.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
       JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
       JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND d.refclassid = 'pg_class'::regclass AND v.oid <> t.oid AND NOT (vn.nspname = ANY ($2::text[]))`,
    [schema, ignoreViewSchemas],
  );
  const colDeps = await client.query<{ relname: string; attname: string; what: string }>(
    `SELECT DISTINCT t.relname::text AS relname, a.attname::text AS attname, format('view %I.%I', vn.nspname, v.relname) AS what
       FROM pg_depend d
       JOIN pg_rewrite rw ON rw.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
       JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
       JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
      WHERE n.nspname = $1 AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND v.oid <> t.oid
        AND NOT (vn.nspname = ANY ($2::text[]))
     UNION ALL
     SELECT t.relname::text, a.attname::text, format('foreign key %I on %I.%I', con.conname, sn.nspname, src.relname)
       FROM pg_constraint con
       JOIN pg_class t ON t.oid = con.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_class src ON src.oid = con.conrelid JOIN pg_namespace sn ON sn.oid = src.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (con.confkey)
      WHERE con.contype = 'f' AND n.nspname = $1 AND con.conrelid <> con.confrelid
     UNION ALL
     -- What else DROP COLUMN refuses to drop along (a normal dependency without an automatic one):
     -- generated columns, policies, column triggers, functions with SQL-standard bodies.
     SELECT t.relname::text, a.attname::text, pg_describe_object(d.classid, d.objid, d.objsubid)
       FROM pg_depend d
       JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
      WHERE n.nspname = $1 AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype = 'n'
        AND d.classid NOT IN ('pg_rewrite'::regclass, 'pg_constraint'::regclass)
        AND NOT EXISTS (SELECT 1 FROM pg_depend d2
                         WHERE d2.classid = d.classid AND d2.objid = d.objid AND d2.refclassid = d.refclassid
                           AND d2.refobjid = d.refobjid AND d2.refobjsubid = d.refobjsubid AND d2.deptype IN ('a', 'i'))
     UNION ALL
     -- PostgreSQL 14 records a generated column's dependency on its base column as automatic, so
     -- DROP COLUMN would silently drop the generated column too (15+ refuse): refused all the same.
     SELECT t.relname::text, a.attname::text, pg_describe_object('pg_attrdef'::regclass, ad.oid, 0)
       FROM pg_depend d
       JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
       JOIN pg_attribute g ON g.attrelid = d.objid AND g.attnum = d.objsubid AND g.attgenerated <> ''
       JOIN pg_attrdef ad ON ad.adrelid = g.attrelid AND ad.adnum = g.attnum
      WHERE n.nspname = $1 AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
        AND d.objid = d.refobjid AND d.objsubid > 0 AND d.refobjsubid > 0 AND d.objsubid <> d.refobjsubid AND d.deptype = 'a'`,
    [schema, ignoreViewSchemas],
  );
  const columnDependents = new Map<string, string[]>();
  for (const d of colDeps.rows) {
    const key = `${d.relname}.${d.attname}`;
    columnDependents.set(key, [...(columnDependents.get(key) ?? []), d.what]);
  }
  const kinds: Record<string, 'DEFAULT' | 'NOTHING' | 'FULL' | 'INDEX'> = { d: 'DEFAULT', n: 'NOTHING', f: 'FULL', i: 'INDEX' };
  const dependents = new Map<string, string[]>();
  for (const d of deps.rows) dependents.set(d.relname, [...(dependents.get(d.relname) ?? []), d.what]);
  return {
    relationNames: new Set(names.rows.map((r) => r.relname)),
    replicaIdentity: new Map(replica.rows.map((r) => [r.relname, { type: kinds[r.relreplident] ?? 'DEFAULT', index: r.index }])),
    dependents,
    columnDependents,
  };
}
