import { ident, qualified } from '../sql/ident.js';
import { swapDrop } from './column-swap.js';
import type { OperationHandler } from './handler.js';
import type { OpContext } from './context.js';
import type { VColumn, VTable } from '../model/virtual-schema.js';
import { directChange, type DirectChange, directPhases, ignoreSyncExpressions, isDirect } from './new-table.js';

/** `physical`: the column as the new version stops seeing it (its shadow, if an earlier operation made one). */
type Resolved = { schema: string; table: string; physical: string } | DirectChange;

/** Hidden from the new version at start; dropped at complete. `down` fills it for rows the new version writes. */
export const dropColumn: OperationHandler<'drop_column', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    const column = ctx.requireColumn(table, body.column);
    if (table.createdByMigration) return dropFromNewTable(ctx, table, column, body.down);
    ctx.claimColumn(table, column, 'column');
    if (table.primaryKey.includes(column.physical)) {
      ctx.fail(`column "${column.name}" is part of the primary key of "${table.name}"`, 'column', 'change the primary key first');
    }
    if (!table.createdByMigration) ctx.requireDroppable(table.physical, column.physical, 'column');
    if (table.columns.length === 1) ctx.fail(`column "${column.name}" is the only column of "${table.name}"`, 'column');
    if (body.down !== undefined) {
      ctx.checkExpression(body.down, 'new', table.name, column.type, 'down');
      ctx.assignDown(table, column, body.down);
    } else if (!column.nullable && column.default === null) {
      ctx.fail(
        `column "${column.name}" is NOT NULL without a default: rows inserted by the new version would be rejected`,
        'down',
        "give `down`, an SQL expression over the new version's columns that fills the column for the old version",
      );
    }
    table.columns = table.columns.filter((c) => c !== column);
    return { schema: ctx.schema, table: table.physical, physical: column.physical };
  },

  /**
   * Nothing on the table: the new version's view leaves the column out (src/plan/version-schema.ts viewSql, one view per table made by the planner's create-version-schema step),
   * and the table's sync trigger fills it from `down` for rows the new version writes
   * (src/plan/trigger.ts).
   */
  start(r) {
    return isDirect(r) ? directPhases.start(r) : [];
  },

  /**
   * ALTER TABLE … DROP COLUMN <column>, in the table's column swap (src/operations/column-swap.ts),
   * once the old version's views, the only readers of the column, are gone.
   */
  complete(r) {
    return isDirect(r) ? [] : [swapDrop(r.schema, r.table, r.physical)];
  },

  /** Nothing: start changed no table but for the sync trigger, which the table's undo step drops. */
  rollback() {
    return [];
  },
};

/** On a table this migration creates: dropped right away (no old version reads it, so no `down`). */
function dropFromNewTable(ctx: OpContext, table: VTable, column: VColumn, down: string | undefined): DirectChange {
  if (table.primaryKey.includes(column.physical)) ctx.fail(`column "${column.name}" is part of the primary key of "${table.name}"`, 'column');
  if (table.columns.length === 1) ctx.fail(`column "${column.name}" is the only column of "${table.name}"`, 'column');
  ignoreSyncExpressions(ctx, table, { down });
  table.columns = table.columns.filter((c) => c !== column);
  const sql = `ALTER TABLE ${qualified(ctx.schema, table.physical)} DROP COLUMN ${ident(column.physical)}`;
  return directChange(ctx, table, [{ sql, description: `drop column ${column.name}` }], 'column');
}
