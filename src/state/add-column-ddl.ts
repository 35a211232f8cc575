import { literal } from '../sql/ident.js';

/**
 * A column added to a state table of an older install: a DO block that runs the ALTER TABLE only
 * when the column is missing, so a current install runs no DDL at all on its state tables (an
 * event trigger or a DDL audit on the database sees nothing from a runner that only checks).
 * `table` and `column` are Tandem's own names (schema `tandem`), `definition` its type and default.
 */
export function addColumnIfMissing(table: string, column: string, definition: string): string {
  return `DO $tandem$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(${literal(`tandem.${table}`)}) AND attname = ${literal(column)} AND NOT attisdropped) THEN
      ALTER TABLE tandem.${table} ADD COLUMN ${column} ${definition};
    END IF;
  END $tandem$`;
}
