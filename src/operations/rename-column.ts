import type { OpContext } from './context.js';
import type { OperationHandler } from './handler.js';

type Resolved = { table: string };

/** Only the new version's view uses the new name until complete renames the column itself. */
export const renameColumn: OperationHandler<'rename_column', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    const column = ctx.requireColumn(table, body.from, 'from');
    ctx.claimColumn(table, column, 'from');
    if (body.from === body.to) ctx.fail('"from" and "to" are the same name', 'to');
    ctx.requireNewName(table, body.to, 'to');
    column.name = body.to;
    return { table: table.physical };
  },

  start() {
    return [];
  },

  complete() {
    // The column is renamed with the table's other column swaps (the planner's contract step).
    return [];
  },

  rollback() {
    return [];
  },
};
