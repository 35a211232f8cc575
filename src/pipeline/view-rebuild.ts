import type { AlterTableCmd, AlterTableStmt, RangeVar } from 'libpg-query';
import type { SqlStatement } from '../convert/parse.js';
import { literal, qualified } from '../sql/ident.js';

/**
 * Plain DDL beside Tandem's version schemas. Each version schema holds one view per table, so
 * `ALTER TABLE t ALTER COLUMN c TYPE …` fails with PostgreSQL's "cannot alter type of a column
 * used by a view or rule" (SQLSTATE 0A000) as soon as a version view shows `c`. The way through:
 * in one transaction, save the definitions of the version views over the tables whose column
 * types change, drop those views, run the SQL, and create the views again from their saved
 * definitions — which PostgreSQL then binds to the columns as the SQL left them. Nothing here
 * touches a database: it reads parse trees and writes SQL text (`tandem exec` runs it, and
 * `tandem convert` puts it in a raw `sql` operation).
 */

/** A table named by a statement, within `schema` (unqualified names count as in it). */
function tableIn(rv: RangeVar | undefined, schema: string): string | undefined {
  if (!rv?.relname || rv.catalogname) return undefined;
  if (rv.schemaname !== undefined && rv.schemaname !== schema) return undefined;
  return rv.relname;
}

/** Every table of `schema` a set of statements names anywhere (ALTER, UPDATE, FROM, REFERENCES…). */
export function tablesNamed(statements: readonly SqlStatement[], schema: string): string[] {
  const out = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) walk(n);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'RangeVar' || key === 'relation' || key === 'pktable') {
          const name = tableIn(value as RangeVar, schema);
          if (name !== undefined) out.add(name);
        }
        walk(value);
      }
    }
  };
  for (const s of statements) walk(s.node);
  return [...out];
}

/** The tables whose column types the statements change (ALTER TABLE … ALTER COLUMN … TYPE). */
export function tablesWithTypeChanges(statements: readonly SqlStatement[], schema: string): string[] {
  const out = new Set<string>();
  for (const s of statements) {
    const alter = (s.node as { AlterTableStmt?: AlterTableStmt }).AlterTableStmt;
    if (!alter || alter.objtype !== 'OBJECT_TABLE') continue;
    const cmds = (alter.cmds ?? []).map((n) => (n as { AlterTableCmd?: AlterTableCmd }).AlterTableCmd);
    if (!cmds.some((c) => c?.subtype === 'AT_AlterColumnType')) continue;
    const name = tableIn(alter.relation, schema);
    if (name !== undefined) out.add(name);
  }
  return [...out];
}

/** A dollar-quote tag that does not occur in `text`. */
function dollarTag(text: string): string {
  for (let n = 0; ; n++) {
    const tag = `$tandem_exec${n === 0 ? '' : `_${n}`}$`;
    if (!text.includes(tag)) return tag;
  }
}

/**
 * One DO block that runs `sql` with the version views over `tables` (of `schema`) dropped and
 * created again around it: the same names, definitions, options, owner and privileges. The views
 * are those of the schema's version schemas recorded in `tandem.migrations` (none if Tandem was
 * never used there); a view of the application's own is left alone (PostgreSQL's error about it
 * stands: it is the application's to change). Runs inside the caller's transaction: a concurrent
 * query sees the views as they were, then as they are, never missing.
 */
export function viewRebuildSql(schema: string, tables: readonly string[], sql: string): string {
  const tableArray = `ARRAY[${tables.map((t) => `to_regclass(${literal(qualified(schema, t))})`).join(', ')}]::regclass[]`;
  const body = `
DECLARE
  version_schemas text[] := '{}';
  saved jsonb;
  v jsonb;
  g record;
BEGIN
  IF to_regclass('tandem.migrations') IS NOT NULL THEN
    EXECUTE 'SELECT coalesce(array_agg(DISTINCT version_schema), ''{}'') FROM tandem.migrations WHERE schema_name = $1 AND phase <> ''rolled_back'''
      INTO version_schemas USING ${literal(schema)};
  END IF;
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'schema', n.nspname, 'name', c.relname, 'definition', pg_get_viewdef(c.oid),
           'options', c.reloptions, 'owner', pg_get_userbyid(c.relowner), 'acl', c.relacl::text[])), '[]')
    INTO saved
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'v' AND n.nspname = ANY (version_schemas)
     AND EXISTS (SELECT 1 FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  WHERE r.ev_class = c.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY (${tableArray}));
  FOR v IN SELECT * FROM jsonb_array_elements(saved) LOOP
    EXECUTE format('DROP VIEW %I.%I', v->>'schema', v->>'name');
  END LOOP;
  EXECUTE ${literal(sql)};
  FOR v IN SELECT * FROM jsonb_array_elements(saved) LOOP
    EXECUTE format('CREATE VIEW %I.%I%s AS %s', v->>'schema', v->>'name',
      CASE WHEN jsonb_typeof(v->'options') = 'array'
           THEN ' WITH (' || (SELECT string_agg(o, ', ') FROM jsonb_array_elements_text(v->'options') o) || ')' ELSE '' END,
      v->>'definition');
    IF v->>'owner' <> current_user THEN
      EXECUTE format('ALTER VIEW %I.%I OWNER TO %I', v->>'schema', v->>'name', v->>'owner');
    END IF;
    IF jsonb_typeof(v->'acl') = 'array' THEN
      FOR g IN SELECT a.grantee, a.privilege_type, a.is_grantable
                 FROM aclexplode(ARRAY(SELECT jsonb_array_elements_text(v->'acl'))::aclitem[]) a
                WHERE a.grantee <> (SELECT relowner FROM pg_class WHERE oid = format('%I.%I', v->>'schema', v->>'name')::regclass) LOOP
        EXECUTE format('GRANT %s ON %I.%I TO %s%s', g.privilege_type, v->>'schema', v->>'name',
          CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END,
          CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
      END LOOP;
    END IF;
  END LOOP;
END`;
  const tag = dollarTag(body);
  return `DO ${tag}${body}${tag}`;
}
