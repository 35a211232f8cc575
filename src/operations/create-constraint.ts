import type { OperationBody } from '../migration/schema.js';
import { fitName } from '../plan/names.js';
import type { Action } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';
import { renameColumnRefs } from '../sql/rename-refs.js';
import type { OpContext } from './context.js';
import { pushForeignKeyTrial, requireReferencedKey, safeStorageParameters } from './fragment-checks.js';
import type { CompleteAction } from './column-swap.js';
import { alterTable, type OperationHandler, validateConstraint } from './handler.js';
import { planShadow, shadowPhases, type ShadowRef } from './shadow.js';
import { tableConstraintClause } from './column-sql.js';
import { directChange, type DirectChange, directPhases, ignoreSyncExpressions, isDirect } from './new-table.js';
import type { VTable } from '../model/virtual-schema.js';

interface Resolved {
  schema: string;
  table: string;
  body: OperationBody<'create_constraint'>;
  shadows: ShadowRef[];
  /** Shadow column of each constrained column, in `columns` order. */
  shadowColumns: string[];
  /** The check expression over the shadow columns. */
  check: string | undefined;
}

/**
 * The constraint goes on shadow copies of its columns, so the old version stays unconstrained:
 * `up` maps what the old version writes into values that satisfy it. Check and foreign key are
 * added NOT VALID and validated at complete; unique and primary key are built as indexes
 * CONCURRENTLY and turned into constraints at complete.
 */
export const createConstraint: OperationHandler<'create_constraint', Resolved | DirectChange> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    ctx.requireIdentifier(body.name, 'name');
    if (ctx.constraintExists(table.physical, body.name) || ctx.relationNameTaken(body.name)) ctx.fail(`the name "${body.name}" is already taken`, 'name');
    const columns = body.columns ?? [];
    if (columns.length === 0) ctx.fail(`a ${body.type} constraint needs "columns"`, 'columns');
    if (body.type === 'check' && !body.check) ctx.fail('a check constraint needs "check"', 'check');
    if (body.type === 'foreign_key' && !body.references) ctx.fail('a foreign_key constraint needs "references"', 'references');
    if (body.type === 'foreign_key' && body.references && body.references.columns.length !== columns.length) {
      ctx.fail('"references.columns" must name as many columns as "columns"', 'references.columns');
    }
    if (body.type === 'primary_key' && table.primaryKey.length) ctx.fail(`table "${body.table}" already has a primary key`, 'type');
    for (const key of Object.keys(body.up ?? {})) if (!columns.includes(key)) ctx.fail(`"${key}" is not one of the constraint's columns`, `up.${key}`);
    for (const key of Object.keys(body.down ?? {})) if (!columns.includes(key)) ctx.fail(`"${key}" is not one of the constraint's columns`, `down.${key}`);
    ctx.claimRelationName(body.name);
    if (body.type === 'check' && body.check) ctx.checkCondition(body.check, table.name, 'check');
    if (body.type === 'foreign_key' && body.references) {
      requireReferencedKey(ctx, body.references.table, body.references.columns, 'references', (i) => `references.columns[${i}]`);
      const types = columns.map((name, i) => ctx.requireColumn(table, name, `columns[${i}]`).type);
      pushForeignKeyTrial(ctx, body.references.table, body.references.columns, types, 'references', 'references.columns');
    }
    const storage = safeStorageParameters(ctx, body.index_parameters?.storage_parameters, 'index_parameters.storage_parameters');
    if (storage !== undefined) body = { ...body, index_parameters: { ...body.index_parameters, storage_parameters: storage } };
    if (table.createdByMigration) return constrainNewTable(ctx, table, body);
    const shadows = columns.map((name, i) => {
      const column = ctx.requireColumn(table, name, `columns[${i}]`);
      ctx.claimColumn(table, column, `columns[${i}]`);
      const plan = planShadow(
        ctx,
        table,
        column,
        {
          finalName: column.name,
          type: column.type,
          notNull: body.type === 'primary_key' ? true : !column.nullable,
          up: body.up?.[name] ?? ident(column.name),
          down: body.down?.[name] ?? ident(column.name),
        },
        `columns[${i}]`,
      );
      column.indexed = true;
      return plan;
    });
    let check = body.check;
    columns.forEach((name, i) => (check = check === undefined ? undefined : renameColumnRefs(check, name, shadows[i]!.plan.shadow)));
    return { schema: ctx.schema, table: table.physical, body, shadows, shadowColumns: shadows.map((s) => s.plan.shadow), check };
  },

  start(r) {
    if (isDirect(r)) return directPhases.start(r);
    const b = r.body;
    const actions: Action[] = r.shadows.flatMap(shadowPhases.start);
    const cols = r.shadowColumns.map(ident).join(', ');
    const add = (clause: string, description: string) => actions.push(alterTable(r.schema, r.table, clause, 'ACCESS EXCLUSIVE', description));
    if (b.type === 'check') {
      add(`ADD CONSTRAINT ${ident(b.name)} CHECK (${r.check})${b.no_inherit ? ' NO INHERIT' : ''} NOT VALID`, `check ${b.name} (not valid)`);
    } else if (b.type === 'foreign_key') {
      const ref = b.references!;
      let clause = `ADD CONSTRAINT ${ident(b.name)} FOREIGN KEY (${cols}) REFERENCES ${qualified(r.schema, ref.table)} (${ref.columns.map(ident).join(', ')})`;
      if (ref.match_type) clause += ` MATCH ${ref.match_type}`;
      if (ref.on_delete) clause += ` ON DELETE ${ref.on_delete}${ref.on_delete_set_columns?.length ? ` (${ref.on_delete_set_columns.map(ident).join(', ')})` : ''}`;
      if (ref.on_update) clause += ` ON UPDATE ${ref.on_update}`;
      add(`${clause} NOT VALID`, `foreign key ${b.name} (not valid)`);
    } else {
      const p = b.index_parameters;
      const index = indexName(b.name);
      actions.push({
        sql:
          `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ${ident(index)} ON ${qualified(r.schema, r.table)} (${cols})` +
          `${p?.include_columns?.length ? ` INCLUDE (${p.include_columns.map(ident).join(', ')})` : ''}` +
          `${p?.storage_parameters ? ` WITH (${p.storage_parameters})` : ''}${p?.tablespace ? ` TABLESPACE ${ident(p.tablespace)}` : ''}`,
        lock: 'SHARE UPDATE EXCLUSIVE',
        table: qualified(r.schema, r.table),
        transactional: false,
        description: `unique index for ${b.name}, concurrently`,
        concurrentIndex: { schema: r.schema, name: index },
      });
    }
    return actions;
  },

  complete(r) {
    if (isDirect(r)) return directPhases.complete();
    const b = r.body;
    const actions: CompleteAction[] = r.shadows.flatMap(shadowPhases.complete);
    if (b.type === 'check' || b.type === 'foreign_key') actions.push(validateConstraint(r.schema, r.table, b.name));
    else {
      const kind = b.type === 'unique' ? 'UNIQUE' : 'PRIMARY KEY';
      actions.push(
        alterTable(
          r.schema,
          r.table,
          `ADD CONSTRAINT ${ident(b.name)} ${kind} USING INDEX ${ident(indexName(b.name))}`,
          'ACCESS EXCLUSIVE',
          `${kind.toLowerCase()} ${b.name} from its index`,
        ),
      );
    }
    return actions;
  },

  rollback(r) {
    if (isDirect(r)) return directPhases.rollback(r);
    return r.shadows.flatMap(shadowPhases.rollback);
  },
};

function indexName(constraint: string): string {
  return fitName(`_tandem_${constraint}`);
}

/**
 * On a table this migration creates (e.g. its primary key right after create_table): added
 * directly and valid, as create_table's own constraints are; no shadow columns, no `up`/`down`.
 */
function constrainNewTable(ctx: OpContext, table: VTable, body: OperationBody<'create_constraint'>): DirectChange {
  ignoreSyncExpressions(ctx, table, { up: body.up, down: body.down });
  const columns = (body.columns ?? []).map((name, i) => ctx.requireColumn(table, name, `columns[${i}]`));
  const clause = tableConstraintClause(ctx.schema, {
    name: body.name,
    type: body.type,
    columns: columns.map((c) => c.physical),
    ...(body.check !== undefined ? { check: body.check } : {}),
    ...(body.no_inherit !== undefined ? { no_inherit: body.no_inherit } : {}),
    ...(body.references !== undefined ? { references: body.references } : {}),
    ...(body.index_parameters !== undefined ? { index_parameters: body.index_parameters } : {}),
  });
  if (body.type === 'primary_key') {
    table.primaryKey = columns.map((c) => c.physical);
    for (const c of columns) c.nullable = false;
  }
  if (body.type === 'primary_key' || body.type === 'unique') for (const c of columns) c.indexed = true;
  const sql = `ALTER TABLE ${qualified(ctx.schema, table.physical)} ADD ${clause}`;
  const references = body.type === 'foreign_key' && body.references ? [body.references.table] : [];
  return directChange(ctx, table, [{ sql, description: `${body.type.replace('_', ' ')} ${body.name}` }], 'name', { references, constraint: body.name });
}
