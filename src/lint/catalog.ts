/**
 * Schema-aware mode: one read of the live catalog (nothing is changed) gives lint the column
 * types (is this type change a rewrite?), table sizes (rank hazards by rows and bytes), validated
 * NOT NULL checks, index → table, and function volatility (pg_proc.provolatile).
 */
import type pg from 'pg';
import type { Catalog, CatalogTable } from './types.js';
import type { Volatility } from './volatility.js';

const TABLES = `
SELECT n.nspname AS schema, c.relname AS name,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::float8 ELSE s.n_live_tup::float8 END AS rows,
       pg_total_relation_size(c.oid)::float8 AS bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`;

const COLUMNS = `
SELECT n.nspname AS schema, c.relname AS table, a.attname AS name, t.typname, a.atttypmod AS typmod,
       format_type(a.atttypid, a.atttypmod) AS formatted, a.attnotnull AS not_null
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`;

const CHECKS = `
SELECT n.nspname AS schema, c.relname AS table, co.conname AS name, co.convalidated AS validated,
       pg_get_constraintdef(co.oid) AS def
FROM pg_constraint co
JOIN pg_class c ON c.oid = co.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE co.contype = 'c' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`;

const INDEXES = `
SELECT n.nspname AS schema, ic.relname AS index, tc.relname AS table
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`;

const FUNCTIONS = `
SELECT n.nspname AS schema, p.proname AS name, max(p.provolatile::text) AS volatility
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
GROUP BY 1, 2`;

/** `CHECK ((email IS NOT NULL))` → email (pg_get_constraintdef's output). */
export function notNullColumnOfCheckDef(def: string): string | undefined {
  const m = /^CHECK \(\((.+) IS NOT NULL\)\)( NOT VALID)?$/.exec(def.trim());
  if (!m) return undefined;
  const id = m[1]!;
  if (/^[a-z_][a-z0-9_$]*$/.test(id)) return id;
  const q = /^"((?:[^"]|"")+)"$/.exec(id);
  return q ? q[1]!.replace(/""/g, '"') : undefined;
}

export async function readCatalog(client: pg.Client, defaultSchema: string): Promise<Catalog> {
  const version = await client.query<{ v: string }>('SHOW server_version_num');
  const serverVersion = Math.floor(Number(version.rows[0]?.v ?? '140000') / 10000);
  // One client runs one query at a time.
  const tables = await client.query<{ schema: string; name: string; rows: number | null; bytes: number }>(TABLES);
  const columns = await client.query<{ schema: string; table: string; name: string; typname: string; typmod: number; formatted: string; not_null: boolean }>(COLUMNS);
  const checks = await client.query<{ schema: string; table: string; name: string; validated: boolean; def: string }>(CHECKS);
  const indexes = await client.query<{ schema: string; index: string; table: string }>(INDEXES);
  const functions = await client.query<{ schema: string; name: string; volatility: Volatility }>(FUNCTIONS);
  const catalog: Catalog = { serverVersion, defaultSchema, tables: new Map(), indexes: new Map(), functions: new Map() };
  for (const r of tables.rows) {
    const t: CatalogTable = {
      schema: r.schema,
      name: r.name,
      rows: r.rows === null ? null : Number(r.rows),
      bytes: Number(r.bytes),
      columns: new Map(),
      notNullChecks: new Set(),
      pendingNotNullChecks: new Map(),
    };
    catalog.tables.set(`${r.schema}.${r.name}`, t);
  }
  for (const r of columns.rows) {
    catalog.tables.get(`${r.schema}.${r.table}`)?.columns.set(r.name, {
      name: r.name,
      typname: r.typname,
      typmod: r.typmod,
      formatted: r.formatted,
      notNull: r.not_null,
    });
  }
  for (const r of checks.rows) {
    const t = catalog.tables.get(`${r.schema}.${r.table}`);
    const col = notNullColumnOfCheckDef(r.def);
    if (!t || !col) continue;
    if (r.validated) t.notNullChecks.add(col);
    else t.pendingNotNullChecks.set(r.name, col);
  }
  for (const r of indexes.rows) catalog.indexes.set(`${r.schema}.${r.index}`, { schema: r.schema, table: r.table });
  const rank: Record<Volatility, number> = { i: 0, s: 1, v: 2 };
  for (const r of functions.rows) {
    catalog.functions.set(`${r.schema}.${r.name}`, r.volatility);
    const prev = catalog.functions.get(r.name);
    if (!prev || rank[r.volatility] > rank[prev]) catalog.functions.set(r.name, r.volatility);
  }
  return catalog;
}
