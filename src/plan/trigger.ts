import type { VTable } from '../model/virtual-schema.js';
import type { Assignment } from '../operations/context.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { MARKER_COLUMN } from './names.js';

export interface TriggerSpec {
  schema: string;
  table: string;
  functionName: string;
  triggerName: string;
  versionName: string;
  versionSchema: string;
  /** The table as the old version sees it (names for `up`). */
  oldTable: VTable;
  /** The table as the new version sees it (names for `down`). */
  newTable: VTable;
  up: Assignment[];
  down: Assignment[];
  marker: boolean;
}

function declarations(schema: string, table: VTable, physicalTable: string): string {
  return table.columns
    .map((c) => `      ${ident(c.name)} ${qualified(schema, physicalTable)}.${ident(c.physical)}%TYPE := NEW.${ident(c.physical)};`)
    .join('\n');
}

function assignments(list: Assignment[]): string {
  return list.map((a) => `      NEW.${ident(a.target)} := (${a.expression});`).join('\n');
}

function dollarTag(body: string): string {
  let tag = '$tandem$';
  for (let i = 0; body.includes(tag); i++) tag = `$tandem${i}$`;
  return tag;
}

/**
 * The sync trigger of one table. The writer is the new version when it says so with
 * `SET LOCAL tandem.version`, or, when that is not set, when the new version schema is on its
 * search_path. Each direction declares the columns as that version names them, so `up` and
 * `down` are written against the version they read from.
 */
export function triggerFunctionSql(spec: TriggerSpec): string {
  const fn = qualified('tandem', spec.functionName);
  const body = `
DECLARE
  _tandem_writer_is_new boolean := coalesce(
    nullif(current_setting('tandem.version', true), '') IN (${literal(spec.versionName)}, ${literal(spec.versionSchema)}),
    ${literal(spec.versionSchema)} = ANY (current_schemas(false)));
BEGIN
  IF _tandem_writer_is_new THEN
    DECLARE
${declarations(spec.schema, spec.newTable, spec.table)}
    BEGIN
${assignments(spec.down) || '      NULL;'}
    END;
  ELSE
    DECLARE
${declarations(spec.schema, spec.oldTable, spec.table)}
    BEGIN
${assignments(spec.up) || '      NULL;'}
    END;
  END IF;
${spec.marker ? `  NEW.${ident(MARKER_COLUMN)} := true;\n` : ''}  RETURN NEW;
END`;
  const tag = dollarTag(body);
  return `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${tag}${body}\n${tag}`;
}

export function createTriggerSql(spec: TriggerSpec): string {
  return (
    `CREATE TRIGGER ${ident(spec.triggerName)} BEFORE INSERT OR UPDATE ON ${qualified(spec.schema, spec.table)} ` +
    `FOR EACH ROW EXECUTE FUNCTION ${qualified('tandem', spec.functionName)}()`
  );
}

export function dropTriggerSql(spec: Pick<TriggerSpec, 'schema' | 'table' | 'triggerName' | 'functionName'>): string[] {
  return [
    `DROP TRIGGER IF EXISTS ${ident(spec.triggerName)} ON ${qualified(spec.schema, spec.table)}`,
    `DROP FUNCTION IF EXISTS ${qualified('tandem', spec.functionName)}()`,
  ];
}
