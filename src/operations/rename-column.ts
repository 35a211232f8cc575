import { ident, qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { swapRename } from './column-swap.js';
import type { OperationHandler } from './handler.js';
import type { VColumn, VTable } from '../model/virtual-schema.js';
import { directChange, type DirectChange, directPhases, isDirect } from './new-table.js';

/** The column and table in the model: complete renames the column as the whole migration leaves it. */
type Resolved = { schema: string; table: string; model: { table: VTable; column: VColumn } } | DirectChange;

/** Only the new version's view uses the new name until complete renames the column itself. */
export const renameColumn: OperationHandler<'rename_column', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    const column = ctx.requireColumn(table, body.from, 'from');
    if (body.from === body.to) ctx.fail('"from" and "to" are the same name', 'to');
    ctx.requireNewName(table, body.to, 'to');
    if (table.createdByMigration) {
      const sql = `ALTER TABLE ${qualified(ctx.schema, table.physical)} RENAME COLUMN ${ident(column.physical)} TO ${ident(body.to)}`;
      table.primaryKey = table.primaryKey.map((k) => (k === column.physical ? body.to : k));
      column.name = column.physical = body.to;
      return directChange(ctx, table, [{ sql, description: `rename column ${body.from} to ${body.to}` }], 'from');
    }
    ctx.claimColumn(table, column, 'from');
    column.name = body.to;
    return { schema: ctx.schema, table: table.physical, model: { table, column } };
  },

  /**
   * Nothing on the table: the new version's view shows the column under its new name
   * (<physical> AS <new name>, src/plan/version-schema.ts viewSql, one view per table made by the planner's create-version-schema step).
   */
  start(r) {
    return isDirect(r) ? directPhases.start(r) : [];
  },

  /**
   * ALTER TABLE … RENAME COLUMN <physical> TO <final name>, under the name the column ends the
   * migration with (a later rename or drop changes it), in the table's column swap
   * (src/operations/column-swap.ts), after the old version's views are gone.
   */
  complete(r) {
    if (isDirect(r)) return [];
    const { table, column } = r.model;
    return table.columns.includes(column) ? swapRename(r.schema, r.table, column.physical, column.name) : [];
  },

  /** Nothing: start changed no table; the version schema's drop removes the view. */
  rollback() {
    return [];
  },
};
