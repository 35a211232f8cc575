import type { OperationBody } from '../migration/schema.js';
import { notNullCheckName, shadowColumn } from '../plan/names.js';
import type { Action } from '../plan/types.js';
import { ident } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { alterTable, type OperationHandler, validateConstraint } from './handler.js';

interface Resolved {
  schema: string;
  table: string;
  /** Physical column the old version uses. */
  oldPhysical: string;
  /** Name of the column in the new version. */
  finalName: string;
  /** Shadow column holding the new version's values, or null for a pure rename. */
  shadow: string | null;
  type: string;
  oldDefault: string | null;
  /** The new column is NOT NULL, enforced by a NOT VALID check until complete. */
  notNull: boolean;
}

const notYet = ['default', 'comment', 'check', 'unique', 'references'] as const;

/**
 * A rename alone only changes the new version's view. A type or nullability change adds a shadow
 * column with the new definition; the sync trigger keeps both in step (`up` old→new, `down`
 * new→old), the backfill fills existing rows, and complete swaps the shadow in.
 */
export const alterColumn: OperationHandler<'alter_column', Resolved> = {
  validate(body: OperationBody<'alter_column'>, ctx: OpContext) {
    for (const field of notYet) {
      if (body[field] !== undefined) {
        ctx.fail(`"${field}" on alter_column is not supported by this version of tandem yet`, field, 'supported here: name, type, nullable (with up/down)');
      }
    }
    const table = ctx.requireTable(body.table);
    const column = ctx.requireColumn(table, body.column);
    ctx.claimColumn(table, column, 'column');
    if (body.name === undefined && body.type === undefined && body.nullable === undefined) {
      ctx.fail('alter_column changes nothing', 'column', 'give at least one of name, type, nullable');
    }
    const finalName = body.name ?? column.name;
    if (body.name !== undefined && body.name !== column.name) ctx.requireNewName(table, body.name, 'name');
    if (body.nullable === false && !column.nullable) ctx.fail(`column "${column.name}" is already NOT NULL`, 'nullable');
    if (body.nullable === true && column.nullable) ctx.fail(`column "${column.name}" is already nullable`, 'nullable');

    const needsShadow = body.type !== undefined || body.nullable !== undefined;
    const resolved: Resolved = {
      schema: ctx.schema,
      table: table.physical,
      oldPhysical: column.physical,
      finalName,
      shadow: null,
      type: body.type ?? column.type,
      oldDefault: column.default,
      notNull: body.nullable === undefined ? !column.nullable : !body.nullable,
    };
    if (!needsShadow) {
      if (body.up !== undefined || body.down !== undefined) ctx.fail('a rename needs no up/down', body.up !== undefined ? 'up' : 'down');
      column.name = finalName;
      return resolved;
    }

    if (body.type !== undefined && (body.up === undefined || body.down === undefined)) {
      ctx.fail(
        'a type change needs both `up` (old value → new type) and `down` (new value → old type)',
        body.up === undefined ? 'up' : 'down',
        `e.g. up: "CAST(${column.name} AS ${body.type})", down: "CAST(${finalName} AS ${column.type})"`,
      );
    }
    if (body.nullable === false && body.up === undefined) {
      ctx.fail('setting NOT NULL needs `up`, the value for rows where the column is NULL', 'up', `e.g. up: "coalesce(${column.name}, <value>)"`);
    }
    if (body.nullable === true && body.down === undefined) {
      ctx.fail('dropping NOT NULL needs `down`, the value the old version sees when the new one writes NULL', 'down', `e.g. down: "coalesce(${finalName}, <value>)"`);
    }
    if (column.indexed) {
      ctx.fail(
        `column "${column.name}" is used by an index or constraint; changing its type or nullability is not supported by this version yet`,
        'column',
        'only columns not covered by an index, key or constraint can change type/nullability here',
      );
    }
    if (column.generatedBy !== undefined) {
      // The shadow column would be a plain column: the identity would be lost, and an owned
      // sequence (serial) would make complete's DROP COLUMN fail after the point of no return.
      ctx.fail(
        `column "${column.name}" is ${column.generatedBy === 'identity' ? 'an identity column' : column.generatedBy === 'expression' ? 'a generated column' : 'filled from a sequence (serial)'}; changing its type or nullability is not supported by this version yet`,
        'column',
        'add a new column and copy the values in steps instead',
      );
    }
    ctx.requireDroppable(table.physical, column.physical, 'column');
    const shadow = shadowColumn(finalName);
    if (table.columns.some((c) => c.physical === shadow)) ctx.fail(`column name "${shadow}" is already taken`, 'name');
    resolved.shadow = shadow;
    if (body.type !== undefined) ctx.checkType(body.type, 'type');
    // Defaults: an omitted up/down is the column itself (its value carried over unchanged).
    const up = body.up ?? ident(column.name);
    const down = body.down ?? ident(finalName);
    ctx.checkExpression(up, 'old', table.name, resolved.type, 'up');
    ctx.checkExpression(down, 'new', table.name, column.type, 'down');
    if (column.default !== null) ctx.checkExpression(column.default, 'none', undefined, resolved.type, 'column (its default)');

    const work = ctx.work(table);
    work.backfill = true;
    work.up.push({ target: shadow, expression: up });
    work.down.push({ target: column.physical, expression: down });
    Object.assign(column, { name: finalName, physical: shadow, type: resolved.type, nullable: !resolved.notNull });
    return resolved;
  },

  start(r) {
    if (!r.shadow) return [];
    const shadow = ident(r.shadow);
    const actions: Action[] = [alterTable(r.schema, r.table, `ADD COLUMN ${shadow} ${r.type}`, 'ACCESS EXCLUSIVE', `add shadow column ${r.shadow}`)];
    if (r.oldDefault !== null) {
      // Added after the column so that existing rows are not rewritten; only new inserts use it.
      actions.push(alterTable(r.schema, r.table, `ALTER COLUMN ${shadow} SET DEFAULT (${r.oldDefault})::${r.type}`, 'ACCESS EXCLUSIVE', 'carry the default over'));
    }
    if (r.notNull) {
      actions.push(
        alterTable(r.schema, r.table, `ADD CONSTRAINT ${ident(notNullCheckName(r.shadow))} CHECK (${shadow} IS NOT NULL) NOT VALID`, 'ACCESS EXCLUSIVE', 'NOT NULL as a NOT VALID check'),
      );
    }
    return actions;
  },

  complete(r) {
    if (!r.shadow) {
      if (r.oldPhysical === r.finalName) return [];
      return [alterTable(r.schema, r.table, `RENAME COLUMN ${ident(r.oldPhysical)} TO ${ident(r.finalName)}`, 'ACCESS EXCLUSIVE', `rename ${r.oldPhysical} to ${r.finalName}`)];
    }
    const check = notNullCheckName(r.shadow);
    const actions: Action[] = [];
    if (r.notNull) actions.push(validateConstraint(r.schema, r.table, check));
    actions.push(alterTable(r.schema, r.table, `DROP COLUMN ${ident(r.oldPhysical)}`, 'ACCESS EXCLUSIVE', `drop old column ${r.oldPhysical}`));
    actions.push(alterTable(r.schema, r.table, `RENAME COLUMN ${ident(r.shadow)} TO ${ident(r.finalName)}`, 'ACCESS EXCLUSIVE', `rename ${r.shadow} to ${r.finalName}`));
    if (r.notNull) {
      // The validated check lets SET NOT NULL skip its full-table scan.
      actions.push(alterTable(r.schema, r.table, `ALTER COLUMN ${ident(r.finalName)} SET NOT NULL`, 'ACCESS EXCLUSIVE', `set NOT NULL on ${r.finalName}`));
      actions.push(alterTable(r.schema, r.table, `DROP CONSTRAINT ${ident(check)}`, 'ACCESS EXCLUSIVE', 'drop the helper check'));
    }
    return actions;
  },

  rollback(r) {
    if (!r.shadow) return [];
    return [alterTable(r.schema, r.table, `DROP COLUMN IF EXISTS ${ident(r.shadow)}`, 'ACCESS EXCLUSIVE', `drop shadow column ${r.shadow}`)];
  },
};
