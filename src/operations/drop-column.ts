import type { OperationHandler } from './handler.js';
import type { OpContext } from './context.js';

type Resolved = { table: string };

/** Hidden from the new version at start; dropped at complete. `down` fills it for rows the new version writes. */
export const dropColumn: OperationHandler<'drop_column', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    const column = ctx.requireColumn(table, body.column);
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
        'give `down`, an SQL expression over the new version\'s columns that fills the column for the old version',
      );
    }
    table.columns = table.columns.filter((c) => c !== column);
    return { table: table.physical };
  },

  start() {
    return [];
  },

  complete() {
    // Dropped with the table's other column swaps (the planner's contract step), once the old
    // version's views, the only readers of the column, are gone.
    return [];
  },

  rollback() {
    return [];
  },
};
