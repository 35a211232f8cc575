import { ident } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { alterTable, type OperationHandler } from './handler.js';

interface Resolved {
  schema: string;
  table: string;
  from: string;
  to: string;
}

/** Only the new version's view uses the new name until complete renames the column itself. */
export const renameColumn: OperationHandler<'rename_column', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    const column = ctx.requireColumn(table, body.from, 'from');
    ctx.claimColumn(table, column, 'from');
    if (body.from === body.to) ctx.fail('"from" and "to" are the same name', 'to');
    ctx.requireNewName(table, body.to, 'to');
    column.name = body.to;
    return { schema: ctx.schema, table: table.physical, from: column.physical, to: body.to };
  },

  start() {
    return [];
  },

  complete(r) {
    return [alterTable(r.schema, r.table, `RENAME COLUMN ${ident(r.from)} TO ${ident(r.to)}`, 'ACCESS EXCLUSIVE', `rename ${r.from} to ${r.to}`)];
  },

  rollback() {
    return [];
  },
};
