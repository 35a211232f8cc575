import { ident } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { alterTable, type OperationHandler } from './handler.js';

interface Resolved {
  schema: string;
  table: string;
  to: string;
}

/** The new version's view carries the new name; complete renames the table itself. */
export const renameTable: OperationHandler<'rename_table', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.from, 'from');
    if (body.from === body.to) ctx.fail('"from" and "to" are the same name', 'to');
    ctx.requireIdentifier(body.to, 'to');
    if (ctx.model.table(body.to) || ctx.relationNameTaken(body.to)) ctx.fail(`a table or relation named "${body.to}" already exists`, 'to');
    ctx.model.tables.delete(body.from);
    table.name = body.to;
    ctx.model.tables.set(body.to, table);
    ctx.claimRelationName(body.to);
    return { schema: ctx.schema, table: table.physical, to: body.to };
  },

  /** Nothing on the table: the new version's view has the new name (src/plan/version-schema.ts viewSql, one view per table made by the planner's create-version-schema step). */
  start() {
    return [];
  },

  /** Last of the table's contract statements, which use the old name. */
  complete(r) {
    return [{ ...alterTable(r.schema, r.table, `RENAME TO ${ident(r.to)}`, 'ACCESS EXCLUSIVE', `rename table ${r.table} to ${r.to}`), renamesTable: true }];
  },

  /** Nothing: start changed no table; the version schema's drop removes the view. */
  rollback() {
    return [];
  },
};
