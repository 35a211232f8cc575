import type pg from 'pg';
import { readTables } from '../catalog/read.js';
import { connect } from '../db/connection.js';
import type { TableModel } from './convert.js';

/**
 * The tables of one schema as `convert` needs them: column types, nullability, defaults, primary
 * key, constraints (name → columns), and what keeps a column from going through a shadow column
 * (identity/serial/generated, referenced by a foreign key, used by a view of the application).
 */
export async function readCatalogModel(url: string, schema: string): Promise<Map<string, TableModel>> {
  const client = await connect(url, 'tandem convert');
  try {
    const tables = await readTables(client, schema);
    const out = new Map<string, TableModel>();
    for (const [name, t] of tables) {
      out.set(name, {
        primaryKey: [...t.primaryKey],
        constraints: new Map(t.constraints.filter((c) => c.type !== 'n').map((c) => [c.name, [...c.columns]])),
        columns: new Map(
          t.columns.map((c) => [
            c.name,
            {
              type: c.type,
              notNull: c.notNull,
              default: c.default,
              ...(c.identity !== '' || c.generated !== '' || /^nextval\(/.test(c.default ?? '') ? { generated: true } : {}),
            },
          ]),
        ),
      });
    }
    await markDependents(client, schema, out);
    return out;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Columns referenced by foreign keys, and columns used by views outside Tandem's version schemas. */
async function markDependents(client: pg.Client, schema: string, model: Map<string, TableModel>): Promise<void> {
  const referenced = await client.query<{ table: string; column: string }>(
    `SELECT t.relname AS table, a.attname AS column
       FROM pg_constraint k JOIN pg_class t ON t.oid = k.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = ANY (k.confkey)
      WHERE k.contype = 'f' AND n.nspname = $1`,
    [schema],
  );
  for (const r of referenced.rows) {
    const c = model.get(r.table)?.columns.get(r.column);
    if (c) c.referenced = true;
  }
  const versionSchemas = (await client.query<{ ok: boolean }>(`SELECT to_regclass('tandem.migrations') IS NOT NULL AS ok`)).rows[0]!.ok
    ? `AND vn.nspname NOT IN (SELECT version_schema FROM tandem.migrations WHERE schema_name = $1)`
    : '';
  const viewed = await client.query<{ table: string; column: string; view: string }>(
    `SELECT DISTINCT t.relname AS table, a.attname AS column, vn.nspname || '.' || v.relname AS view
       FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
       JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
        AND n.nspname = $1 AND v.oid <> t.oid ${versionSchemas}`,
    [schema],
  );
  for (const r of viewed.rows) {
    const c = model.get(r.table)?.columns.get(r.column);
    if (c) c.views = [...(c.views ?? []), r.view];
  }
}
