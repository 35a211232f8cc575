import type { OperationBody } from '../migration/schema.js';
import type { Action } from '../plan/types.js';
import { ident } from '../sql/ident.js';
import type { OpContext } from './context.js';
import type { CompleteAction } from './column-swap.js';
import type { OperationHandler } from './handler.js';
import { planShadow, shadowPhases, type ShadowRef } from './shadow.js';
import { directChange, type DirectChange, directPhases, ignoreSyncExpressions, isDirect } from './new-table.js';
import { qualified } from '../sql/ident.js';

interface Resolved {
  table: string;
  shadows: ShadowRef[];
}

/**
 * The new version writes shadow copies of the constraint's columns without the constraint;
 * `down` maps its values into ones the old version's still-constrained columns accept. Complete
 * swaps the shadows in, which drops the constraint with the old columns.
 */
function dropOn(
  ctx: OpContext,
  tableName: string,
  name: string,
  up: (column: string) => string | undefined,
  down: (column: string) => string | undefined,
): Resolved | DirectChange {
  const table = ctx.requireTable(tableName);
  if (table.createdByMigration) {
    // No old version writes the table: dropped right away (the trial says if the constraint is there).
    ignoreSyncExpressions(ctx, table, { up: table.columns.some((c) => up(c.name)) ? 'up' : undefined, down: table.columns.some((c) => down(c.name)) ? 'down' : undefined });
    const sql = `ALTER TABLE ${qualified(ctx.schema, table.physical)} DROP CONSTRAINT ${ident(name)}`;
    return directChange(ctx, table, [{ sql, description: `drop constraint ${name}` }], 'name');
  }
  const con = ctx.catalog.get(table.physical)?.constraints.find((c) => c.name === name);
  if (!con) ctx.fail(`constraint "${name}" does not exist on table "${tableName}"`, 'name');
  if (con.type === 'p') ctx.fail(`"${name}" is the primary key; dropping it is not supported`, 'name');
  if (con.type === 'n') ctx.fail(`"${name}" is a NOT NULL constraint: use alter_column with nullable: true`, 'name');
  if (con.columns.length === 0) ctx.fail(`constraint "${name}" involves no column`, 'name');
  const shadows = con.columns.map((physical) => {
    const column = table.columns.find((c) => c.physical === physical);
    if (!column) ctx.fail(`constraint "${name}" involves column "${physical}", which this migration already removed`, 'name');
    ctx.claimColumn(table, column, 'name');
    const d = down(column.name);
    if (d === undefined) {
      ctx.fail(
        `dropping "${name}" needs \`down\` for column "${column.name}": the old version's column keeps the constraint`,
        'down',
        `e.g. an expression that makes any new value acceptable to "${name}"`,
      );
    }
    return planShadow(ctx, table, column, {
      finalName: column.name,
      type: column.type,
      notNull: !column.nullable,
      withoutConstraint: name,
      up: up(column.name) ?? ident(column.name),
      down: d,
    });
  });
  return { table: table.physical, shadows };
}

const phases = {
  start: (r: Resolved | DirectChange): Action[] => (isDirect(r) ? directPhases.start(r) : r.shadows.flatMap(shadowPhases.start)),
  complete: (r: Resolved | DirectChange): CompleteAction[] => (isDirect(r) ? directPhases.complete() : r.shadows.flatMap(shadowPhases.complete)),
  rollback: (r: Resolved | DirectChange): Action[] => (isDirect(r) ? directPhases.rollback(r) : r.shadows.flatMap(shadowPhases.rollback)),
};

export const dropConstraint: OperationHandler<'drop_constraint', Resolved | DirectChange> = {
  validate(body: OperationBody<'drop_constraint'>, ctx: OpContext) {
    return dropOn(
      ctx,
      body.table,
      body.name,
      () => body.up,
      () => body.down,
    );
  },
  ...phases,
};

export const dropMultiColumnConstraint: OperationHandler<'drop_multicolumn_constraint', Resolved | DirectChange> = {
  validate(body: OperationBody<'drop_multicolumn_constraint'>, ctx: OpContext) {
    return dropOn(
      ctx,
      body.table,
      body.name,
      (c) => body.up?.[c],
      (c) => body.down[c],
    );
  },
  ...phases,
};
