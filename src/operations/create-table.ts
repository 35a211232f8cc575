import type { InputErrorCode } from '../errors.js';
import type { OperationBody } from '../migration/schema.js';
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

/**
 * The statements tried for a create_table: the table with its columns only, then each table
 * constraint added to it (foreign keys last, as CREATE TABLE adds them), so that a failure names
 * `constraints[i]`; then that table is dropped and the CREATE TABLE is tried whole, as start runs it.
 */
function trialStatements(r: Resolved): { sql: string; field: string }[] {
  const whole = createTable.start(r).map((action) => ({ sql: action.sql, field: 'columns' }));
  const constraints = (r.body.constraints ?? []).map((c, i) => ({ c, field: `constraints[${i}]` }));
  if (constraints.length === 0) return whole;
  const table = qualified(r.schema, r.body.name);
  const columnsOnly = createTable.start({ ...r, body: { ...r.body, constraints: [] } })[0]!;
  const ordered = [...constraints.filter(({ c }) => c.type !== 'foreign_key'), ...constraints.filter(({ c }) => c.type === 'foreign_key')];
  return [
    { sql: columnsOnly.sql, field: 'columns' },
    ...ordered.map(({ c, field }) => ({ sql: `ALTER TABLE ${table} ADD ${tableConstraintClause(r.schema, c)}`, field })),
    { sql: `DROP TABLE ${table}`, field: 'columns' },
    ...whole,
  ];
}

/** Error codes of a failed trial statement, from its SQLSTATE. */
function classifyTrialError(sqlstate: string | undefined, message: string): { code: InputErrorCode } | undefined {
  switch (sqlstate) {
    case '42703':
      return { code: 'column-not-found' };
    case '42P01':
      return { code: 'referenced-table-not-found' };
    case '22023':
      return { code: 'invalid-storage-parameter' };
    case '42P17':
      return { code: /immutable/i.test(message) ? 'not-immutable' : 'invalid-sql' };
    case '42601':
    case '42804':
    case '42883':
    case '42704':
      return { code: 'invalid-sql' };
    default:
      return undefined;
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
    const resolved = { schema: ctx.schema, body };
    // The whole CREATE TABLE is tried (and rolled back) before anything is changed, so a bad type,
    // default, check or reference is reported as invalid input; piece by piece first, so that the
    // report names the table constraint at fault.
    for (const trial of trialStatements(resolved)) {
      ctx.checks.push({ kind: 'statement', sql: trial.sql, scope: 'none', operationIndex: ctx.index, operation: ctx.operation, field: trial.field, classify: classifyTrialError });
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
