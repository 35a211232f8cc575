import type { ColumnDef } from '../migration/schema.js';
import { notNullCheckName } from '../plan/names.js';
import type { Action } from '../plan/types.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { checkClause, columnDefinition, referencesClause } from './column-sql.js';
import type { VColumn, VTable } from '../model/virtual-schema.js';
import type { OpContext } from './context.js';
import { pushForeignKeyTrial, requireReferencedKey } from './fragment-checks.js';
import { alterTable, isConstantDefault, type OperationHandler, validateConstraint } from './handler.js';
import { directChange, type DirectChange, directPhases, ignoreSyncExpressions, isDirect } from './new-table.js';

interface AddToExisting {
  schema: string;
  table: string;
  column: ColumnDef;
  /** NOT NULL is enforced through a NOT VALID check at start, validated and turned into NOT NULL at complete. */
  notNullViaCheck: boolean;
  /** A literal default goes with ADD COLUMN (no rewrite); anything else is set after and backfilled. */
  inlineDefault: boolean;
  /** The column and table in the model: a later operation may rename or drop the column. */
  model: { table: VTable; column: VColumn };
}

type Resolved = AddToExisting | DirectChange;

const serialTypes = /^\s*(small|big)?serial\d?\s*$/i;

export const addColumn: OperationHandler<'add_column', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    const col = body.column;
    ctx.requireNewName(table, col.name, 'column.name');
    if (table.createdByMigration) return addToNewTable(ctx, table, col, body.up);
    if (col.pk) ctx.fail('adding a primary key column to an existing table is not supported', 'column.pk', 'create the key with a later migration');
    if (col.unique) {
      ctx.fail('unique on add_column is not supported by this version yet', 'column.unique', 'add the column first; create the unique index in a later migration');
    }
    if (serialTypes.test(col.type)) {
      ctx.fail('serial columns rewrite the table when added', 'column.type', 'add an integer column with an identity in a new table, or a nullable column with an `up`');
    }
    if (col.generated) ctx.fail('generated columns rewrite the table when added', 'column.generated');
    const hasDefault = col.default !== undefined && col.default !== null;
    const nullable = col.nullable === true;
    if (!nullable && !hasDefault && body.up === undefined) {
      ctx.fail(
        `column "${col.name}" is NOT NULL (pgroll's default) with no default, so existing rows need a value`,
        'up',
        'give `up` (an SQL expression over the old columns, e.g. "lower(email)"), a `default`, or set `nullable: true`',
      );
    }
    ctx.checkType(col.type, 'column.type');
    if (hasDefault) ctx.checkExpression(col.default!, 'none', undefined, col.type, 'column.default');
    if (body.up !== undefined) ctx.checkExpression(body.up, 'old', table.name, col.type, 'up');
    if (col.check) ctx.checkCondition(col.check.constraint, table.name, 'column.check.constraint');
    if (col.references) {
      requireReferencedKey(ctx, col.references.table, [col.references.column], 'column.references', () => 'column.references.column');
      pushForeignKeyTrial(ctx, col.references.table, [col.references.column], [col.type], 'column.references', 'column.references.column');
    }

    const inlineDefault = hasDefault && body.up === undefined && isConstantDefault(col.default!);
    const notNullViaCheck = !nullable && !inlineDefault;
    // A table created by this migration has no rows yet and no old version: nothing to sync or backfill.
    const column = {
      id: ctx.model.newColumnId(),
      name: col.name,
      physical: col.name,
      type: col.type,
      nullable,
      default: col.default ?? null,
      indexed: false,
    };
    table.columns.push(column);
    ctx.touch(table);
    if (!table.createdByMigration) ctx.addedPhysical(table.physical, col.name);
    if (!inlineDefault && (body.up !== undefined || hasDefault) && !table.createdByMigration) {
      ctx.work(table).backfill = true;
      // The old version never writes this column: fill it from `up` (or the default for old rows).
      ctx.assignUp(table, column, body.up ?? `coalesce(NEW.${ident(col.name)}, ${col.default})`);
    }
    return { schema: ctx.schema, table: table.physical, column: col, notNullViaCheck, inlineDefault, model: { table, column } };
  },

  start(r) {
    if (isDirect(r)) return directPhases.start(r);
    const col = r.column;
    const name = ident(col.name);
    let def = `${name} ${col.type}`;
    if (r.inlineDefault) def += ` DEFAULT ${col.default}`;
    if (!r.notNullViaCheck && col.nullable !== true) def += ' NOT NULL';
    const actions: Action[] = [alterTable(r.schema, r.table, `ADD COLUMN ${def}`, 'ACCESS EXCLUSIVE', `add column ${col.name}`)];
    if (!r.inlineDefault && col.default !== undefined && col.default !== null) {
      // Set after ADD COLUMN so that existing rows are not rewritten; the backfill fills them.
      actions.push(alterTable(r.schema, r.table, `ALTER COLUMN ${name} SET DEFAULT ${col.default}`, 'ACCESS EXCLUSIVE', 'set default'));
    }
    if (r.notNullViaCheck) {
      actions.push(
        alterTable(
          r.schema,
          r.table,
          `ADD CONSTRAINT ${ident(notNullCheckName(col.name))} CHECK (${name} IS NOT NULL) NOT VALID`,
          'ACCESS EXCLUSIVE',
          `NOT NULL on ${col.name} as a NOT VALID check`,
        ),
      );
    }
    if (col.check) actions.push(alterTable(r.schema, r.table, `ADD ${checkClause(col.check)} NOT VALID`, 'ACCESS EXCLUSIVE', 'add check (not valid)'));
    if (col.references) {
      actions.push(
        alterTable(
          r.schema,
          r.table,
          `ADD ${referencesClause(r.schema, col.references).replace('REFERENCES', `FOREIGN KEY (${name}) REFERENCES`)} NOT VALID`,
          'SHARE ROW EXCLUSIVE',
          'add foreign key (not valid)',
        ),
      );
    }
    if (col.comment !== undefined && col.comment !== null) {
      actions.push({
        sql: `COMMENT ON COLUMN ${qualified(r.schema, r.table)}.${name} IS ${literal(col.comment)}`,
        lock: 'SHARE UPDATE EXCLUSIVE',
        table: qualified(r.schema, r.table),
        transactional: true,
        description: 'comment',
      });
    }
    return actions;
  },

  complete(r) {
    if (isDirect(r)) return directPhases.complete();
    // Under the name it ends with (a later rename_column), and nothing if a later operation dropped it.
    if (!r.model.table.columns.includes(r.model.column)) return [];
    const name = ident(r.model.column.name);
    const actions: Action[] = [];
    const validate = (constraint: string) => validateConstraint(r.schema, r.table, constraint);
    if (r.column.check) actions.push(validate(r.column.check.name));
    if (r.column.references) actions.push(validate(r.column.references.name));
    if (r.notNullViaCheck) {
      const check = notNullCheckName(r.column.name);
      actions.push(validate(check));
      // With a validated IS NOT NULL check in place, SET NOT NULL skips the full-table scan.
      actions.push(alterTable(r.schema, r.table, `ALTER COLUMN ${name} SET NOT NULL`, 'ACCESS EXCLUSIVE', `set NOT NULL on ${r.column.name}`));
      actions.push(alterTable(r.schema, r.table, `DROP CONSTRAINT ${ident(check)}`, 'ACCESS EXCLUSIVE', 'drop the helper check'));
    }
    return actions;
  },

  rollback(r) {
    if (isDirect(r)) return directPhases.rollback(r);
    return [alterTable(r.schema, r.table, `DROP COLUMN IF EXISTS ${ident(r.column.name)}`, 'ACCESS EXCLUSIVE', `drop column ${r.column.name}`)];
  },
};

/**
 * On a table this migration creates: the column exactly as create_table would define it (NOT NULL,
 * default, primary key, unique, check, references, identity, generated), added right away. The
 * table has no rows, so nothing is rewritten and `up` has nothing to fill.
 */
function addToNewTable(ctx: OpContext, table: VTable, col: ColumnDef, up: string | undefined): DirectChange {
  if (col.pk && table.primaryKey.length) ctx.fail(`table "${table.name}" already has a primary key`, 'column.pk');
  if (col.generated?.expression && col.generated.identity) ctx.fail('a column is either generated from an expression or an identity, not both', 'column.generated');
  ignoreSyncExpressions(ctx, table, { up });
  ctx.checkType(col.type, 'column.type');
  if (col.default !== undefined && col.default !== null) ctx.checkExpression(col.default, 'none', undefined, col.type, 'column.default');
  if (col.check) ctx.checkCondition(col.check.constraint, table.name, 'column.check.constraint');
  if (col.references) requireReferencedKey(ctx, col.references.table, [col.references.column], 'column.references', () => 'column.references.column');
  const ref = qualified(ctx.schema, table.physical);
  const statements = [
    { sql: `ALTER TABLE ${ref} ADD COLUMN ${columnDefinition(ctx.schema, col, { withDefault: true, withNotNull: !col.pk })}`, description: `add column ${col.name}` },
  ];
  if (col.pk) statements.push({ sql: `ALTER TABLE ${ref} ADD PRIMARY KEY (${ident(col.name)})`, description: `primary key (${col.name})` });
  if (col.comment !== undefined && col.comment !== null) {
    statements.push({ sql: `COMMENT ON COLUMN ${ref}.${ident(col.name)} IS ${literal(col.comment)}`, description: `comment on ${col.name}` });
  }
  table.columns.push({
    id: ctx.model.newColumnId(),
    name: col.name,
    physical: col.name,
    type: col.type,
    nullable: col.nullable === true && !col.pk,
    default: col.default ?? null,
    indexed: Boolean(col.pk || col.unique),
    touchedBy: ctx.index,
  });
  if (col.pk) table.primaryKey = [col.name];
  return directChange(ctx, table, statements, 'column', {
    references: col.references ? [col.references.table] : [],
    ...(col.references ? { constraint: col.references.name } : {}),
  });
}
