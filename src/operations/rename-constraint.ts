import { ident } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { alterTable, type OperationHandler } from './handler.js';

interface Resolved {
  schema: string;
  table: string;
  from: string;
  to: string;
}

/** Renamed at complete, so the old version keeps seeing the names it was written against. */
export const renameConstraint: OperationHandler<'rename_constraint', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    if (!ctx.constraintExists(table.physical, body.from)) ctx.fail(`constraint "${body.from}" does not exist on table "${body.table}"`, 'from');
    ctx.requireIdentifier(body.to, 'to');
    if (ctx.constraintExists(table.physical, body.to) || ctx.relationNameTaken(body.to)) ctx.fail(`the name "${body.to}" is already taken`, 'to');
    return { schema: ctx.schema, table: table.physical, from: body.from, to: body.to };
  },

  start() {
    return [];
  },

  complete(r) {
    return [alterTable(r.schema, r.table, `RENAME CONSTRAINT ${ident(r.from)} TO ${ident(r.to)}`, 'ACCESS EXCLUSIVE', `rename constraint ${r.from} to ${r.to}`)];
  },

  rollback() {
    return [];
  },
};
