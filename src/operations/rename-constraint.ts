import { ident, qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { alterTable, type OperationHandler } from './handler.js';
import { directChange, type DirectChange, directPhases, isDirect } from './new-table.js';

interface Resolved {
  schema: string;
  table: string;
  from: string;
  to: string;
}

/** Renamed at complete, so the old version keeps seeing the names it was written against. */
export const renameConstraint: OperationHandler<'rename_constraint', Resolved | DirectChange> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    if (table.createdByMigration) {
      // No old version knows the table: renamed right away (the trial says if the constraint is there).
      ctx.requireIdentifier(body.to, 'to');
      const sql = `ALTER TABLE ${qualified(ctx.schema, table.physical)} RENAME CONSTRAINT ${ident(body.from)} TO ${ident(body.to)}`;
      return directChange(ctx, table, [{ sql, description: `rename constraint ${body.from} to ${body.to}` }], 'from');
    }
    if (!ctx.constraintExists(table.physical, body.from)) ctx.fail(`constraint "${body.from}" does not exist on table "${body.table}"`, 'from');
    ctx.requireIdentifier(body.to, 'to');
    if (ctx.constraintExists(table.physical, body.to) || ctx.relationNameTaken(body.to)) ctx.fail(`the name "${body.to}" is already taken`, 'to');
    return { schema: ctx.schema, table: table.physical, from: body.from, to: body.to };
  },

  start(r) {
    return isDirect(r) ? directPhases.start(r) : [];
  },

  complete(r) {
    if (isDirect(r)) return directPhases.complete();
    return [alterTable(r.schema, r.table, `RENAME CONSTRAINT ${ident(r.from)} TO ${ident(r.to)}`, 'ACCESS EXCLUSIVE', `rename constraint ${r.from} to ${r.to}`)];
  },

  rollback() {
    return [];
  },
};
