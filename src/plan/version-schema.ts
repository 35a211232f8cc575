import type pg from 'pg';
import type { VTable } from '../model/virtual-schema.js';
import { ident, qualified } from '../sql/ident.js';
import type { Action } from './types.js';

function plain(sql: string, description: string): Action {
  return { sql, lock: 'none', transactional: true, description };
}

/** The view of one table in a version schema: the version's column names over the physical ones. */
export function viewSql(schema: string, versionSchema: string, table: VTable): string {
  const cols = table.columns.map((c) => (c.name === c.physical ? ident(c.name) : `${ident(c.physical)} AS ${ident(c.name)}`));
  return `CREATE VIEW ${qualified(versionSchema, table.name)} AS SELECT ${cols.join(', ')} FROM ${qualified(schema, table.physical)}`;
}

/** One privilege an application role has on the schema (relname null: USAGE on it) or on one of its tables. */
export interface GrantRow {
  relname: string | null;
  /** null is PUBLIC. */
  grantee: string | null;
  privilege: string;
}

/** The privileges of other roles than the owners, on the schema and its tables, in a stable order. */
export async function readGrants(client: pg.Client, schema: string): Promise<GrantRow[]> {
  // grantee NULL is PUBLIC (grantee oid 0), e.g. the default USAGE on schema public.
  const rows = await client.query<GrantRow>(
    `SELECT NULL::text AS relname, r.rolname::text AS grantee, a.privilege_type AS privilege
       FROM pg_namespace n, aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
      WHERE n.nspname = $1 AND a.grantee <> n.nspowner AND a.privilege_type = 'USAGE' AND (a.grantee = 0 OR r.oid IS NOT NULL)
     UNION ALL
     SELECT c.relname::text, r.rolname::text, a.privilege_type
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.grantee <> c.relowner AND (a.grantee = 0 OR r.oid IS NOT NULL)
        AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
     ORDER BY 1 NULLS FIRST, 2 NULLS FIRST, 3`,
    [schema],
  );
  return rows.rows;
}

/** The version schema's views get the privileges their tables have, so application roles keep working. */
export function grantActions(grants: GrantRow[], versionSchema: string, tables: VTable[]): Action[] {
  const byPhysical = new Map(tables.map((t) => [t.physical, t]));
  const actions: Action[] = [];
  for (const row of grants) {
    const grantee = row.grantee === null ? 'PUBLIC' : ident(row.grantee);
    if (row.relname === null) {
      actions.push(plain(`GRANT USAGE ON SCHEMA ${ident(versionSchema)} TO ${grantee}`, 'grant usage'));
      continue;
    }
    const t = byPhysical.get(row.relname);
    if (t) actions.push(plain(`GRANT ${row.privilege} ON ${qualified(versionSchema, t.name)} TO ${grantee}`, 'grant'));
  }
  return actions;
}

/** Reads the grants and turns them into the views' (for a version schema made at run time, after raw SQL). */
export async function grantsFor(client: pg.Client, schema: string, versionSchema: string, tables: VTable[]): Promise<Action[]> {
  return grantActions(await readGrants(client, schema), versionSchema, tables);
}
