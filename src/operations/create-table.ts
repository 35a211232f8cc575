import type { ForeignKeyDef, OperationBody } from '../migration/schema.js';
import type { Action } from '../plan/types.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { columnDefinition, tableConstraintClause } from './column-sql.js';
import type { OpContext } from './context.js';
import { checkNewTableFragments } from './fragment-checks.js';
import type { OperationHandler } from './handler.js';

interface Resolved {
  schema: string;
  body: OperationBody<'create_table'>;
}

/** serial types are shorthands of CREATE TABLE, not types a value can be cast to. */
const serialBase: Record<string, string> = { smallserial: 'smallint', serial2: 'smallint', serial: 'integer', serial4: 'integer', bigserial: 'bigint', serial8: 'bigint' };

function castableType(type: string): string {
  return serialBase[type.trim().toLowerCase()] ?? type;
}

/**
 * Each column's type, default, check and reference is checked on its own before the whole
 * CREATE TABLE, so that a mistake is reported at its field (`columns[3].type`,
 * `columns[1].references.table`) rather than at "columns".
 */
function checkColumnParts(ctx: OpContext, body: OperationBody<'create_table'>): void {
  const scope = body.columns.map((c) => ({ name: c.name, type: castableType(c.type) }));
  body.columns.forEach((col, i) => {
    const field = `columns[${i}]`;
    const type = castableType(col.type);
    ctx.checkType(type, `${field}.type`);
    if (col.default !== undefined && col.default !== null) ctx.checkExpression(col.default, 'none', undefined, type, `${field}.default`);
    if (col.check) ctx.checkCondition(col.check.constraint, undefined, `${field}.check.constraint`, scope);
    if (col.references) checkColumnReference(ctx, body, col.references, `${field}.references`);
  });
}

/** The referenced table exists (before this migration, or created earlier in it, or this one) and has the column. */
function checkColumnReference(ctx: OpContext, body: OperationBody<'create_table'>, ref: ForeignKeyDef, field: string): void {
  const columns = ref.table === body.name ? body.columns.map((c) => c.name) : ctx.model.table(ref.table)?.columns.map((c) => c.name);
  if (!columns) {
    ctx.fail(
      `the referenced table "${ref.table}" does not exist in schema "${ctx.schema}"`,
      `${field}.table`,
      'create it first, in this migration or an earlier one',
      'referenced-table-not-found',
    );
  }
  if (!columns.includes(ref.column)) {
    ctx.fail(`the referenced table "${ref.table}" has no column "${ref.column}"`, `${field}.column`, `its columns: ${columns.join(', ')}`, 'column-not-found');
  }
}

/** A new table is invisible to the old version; it is created whole at start and dropped on rollback. */
export const createTable: OperationHandler<'create_table', Resolved> = {
  validate(body, ctx: OpContext) {
    if (ctx.model.table(body.name)) ctx.fail(`table "${body.name}" already exists in schema "${ctx.schema}"`, 'name');
    ctx.requireIdentifier(body.name, 'name');
    const seen = new Set<string>();
    body.columns.forEach((col, i) => {
      const field = `columns[${i}]`;
      if (seen.has(col.name)) ctx.fail(`column "${col.name}" is listed twice`, `${field}.name`);
      seen.add(col.name);
      ctx.requireIdentifier(col.name, `${field}.name`);
      if (col.generated?.expression && col.generated.identity) {
        ctx.fail('a column is either generated from an expression or an identity, not both', `${field}.generated`);
      }
    });
    const constraints = body.constraints ?? [];
    const pkColumns = body.columns.filter((c) => c.pk).map((c) => c.name);
    const pkConstraint = constraints.find((c) => c.type === 'primary_key');
    if (pkColumns.length && pkConstraint) {
      ctx.fail('the primary key is given both on columns and in constraints', 'constraints', 'keep one of the two');
    }
    constraints.forEach((c, i) => {
      const field = `constraints[${i}]`;
      const needsColumns = c.type === 'unique' || c.type === 'primary_key' || c.type === 'foreign_key';
      if (needsColumns && !c.columns?.length) ctx.fail(`a ${c.type} constraint needs "columns"`, `${field}.columns`);
      for (const col of c.columns ?? []) if (!seen.has(col)) ctx.fail(`column "${col}" is not a column of the new table`, `${field}.columns`);
      if (c.type === 'check' && !c.check) ctx.fail('a check constraint needs "check"', `${field}.check`);
      if (c.type === 'foreign_key' && !c.references) ctx.fail('a foreign_key constraint needs "references"', `${field}.references`);
      if (c.type === 'exclude' && !c.exclude) ctx.fail('an exclude constraint needs "exclude"', `${field}.exclude`);
    });
    body = checkNewTableFragments(ctx, body);
    checkColumnParts(ctx, body);
    const resolved = { schema: ctx.schema, body };
    // The whole CREATE TABLE is tried (and rolled back) before anything is changed, so a bad type,
    // default, check or reference is reported as invalid input.
    for (const action of createTable.start(resolved)) {
      ctx.checks.push({ kind: 'statement', sql: action.sql, scope: 'none', operationIndex: ctx.index, operation: ctx.operation, field: 'columns' });
    }
    const pk = pkColumns.length ? pkColumns : (pkConstraint?.columns ?? []);
    ctx.model.tables.set(body.name, {
      name: body.name,
      physical: body.name,
      columns: body.columns.map((c) => ({
        id: ctx.model.newColumnId(),
        name: c.name,
        physical: c.name,
        type: c.type,
        nullable: c.nullable === true,
        default: c.default ?? null,
        indexed: Boolean(c.pk || c.unique),
        touchedBy: ctx.index,
      })),
      primaryKey: pk,
      uniqueNotNullKey: [],
      createdByMigration: true,
      estimatedRows: 0,
    });
    return resolved;
  },

  start({ schema, body }) {
    const table = qualified(schema, body.name);
    const pkColumns = body.columns.filter((c) => c.pk).map((c) => ident(c.name));
    const defs = body.columns.map((c) => columnDefinition(schema, c, { withDefault: true, withNotNull: !c.pk }));
    if (pkColumns.length) defs.push(`PRIMARY KEY (${pkColumns.join(', ')})`);
    for (const c of body.constraints ?? []) defs.push(tableConstraintClause(schema, c));
    const actions: Action[] = [
      {
        sql: `CREATE TABLE ${table} (\n  ${defs.join(',\n  ')}\n)`,
        lock: 'ACCESS EXCLUSIVE',
        table,
        transactional: true,
        description: `create table ${body.name}`,
      },
    ];
    if (body.comment !== undefined) {
      actions.push({ sql: `COMMENT ON TABLE ${table} IS ${literal(body.comment)}`, lock: 'SHARE UPDATE EXCLUSIVE', table, transactional: true, description: 'comment' });
    }
    for (const c of body.columns) {
      if (c.comment !== undefined && c.comment !== null) {
        actions.push({
          sql: `COMMENT ON COLUMN ${table}.${ident(c.name)} IS ${literal(c.comment)}`,
          lock: 'SHARE UPDATE EXCLUSIVE',
          table,
          transactional: true,
          description: `comment on ${c.name}`,
        });
      }
    }
    return actions;
  },

  complete() {
    return [];
  },

  rollback({ schema, body }) {
    const table = qualified(schema, body.name);
    return [{ sql: `DROP TABLE IF EXISTS ${table}`, lock: 'ACCESS EXCLUSIVE', table, transactional: true, description: `drop table ${body.name}` }];
  },
};
