import type { OperationBody } from '../migration/schema.js';
import type { Action } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { pushIndexTrials, safeStorageParameters } from './fragment-checks.js';
import type { OperationHandler } from './handler.js';
import { directChange, type DirectChange, directPhases, isDirect } from './new-table.js';

interface Resolved {
  schema: string;
  table: string;
  body: OperationBody<'create_index'>;
  /** Index columns as physical columns. */
  columns: string[];
}

/** CONCURRENTLY on an existing table; a plain CREATE INDEX, in the expand transaction, on a table this migration creates. */
function indexSql(r: Resolved, concurrently = true): string {
  const b = r.body;
  const elements = b.columns.map((f, i) => {
    let e = ident(r.columns[i]!);
    if (f.collate) e += ` COLLATE ${ident(f.collate)}`;
    if (f.opclass?.name) e += ` ${ident(f.opclass.name)}${f.opclass.params?.length ? ` (${f.opclass.params.join(', ')})` : ''}`;
    if (f.sort) e += ` ${f.sort}`;
    if (f.nulls) e += ` NULLS ${f.nulls}`;
    return e;
  });
  return (
    `CREATE ${b.unique ? 'UNIQUE ' : ''}INDEX ${concurrently ? 'CONCURRENTLY IF NOT EXISTS ' : ''}${ident(b.name)} ON ${qualified(r.schema, r.table)}` +
    `${b.method ? ` USING ${b.method}` : ''} (${elements.join(', ')})` +
    `${b.storage_parameters ? ` WITH (${b.storage_parameters})` : ''}${b.predicate ? ` WHERE (${b.predicate})` : ''}`
  );
}

/**
 * Built CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on), outside any transaction.
 * A build that fails or is killed leaves an invalid index; the executor drops it and builds again.
 */
export const createIndex: OperationHandler<'create_index', Resolved | DirectChange> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    ctx.requireIdentifier(body.name, 'name');
    // An invalid index of that name on this table is the leftover of a failed concurrent build:
    // start drops it and builds the index again (prepareConcurrentIndex).
    const leftover = ctx.catalog.get(table.physical)?.indexes.some((i) => i.name === body.name && !i.valid) ?? false;
    if (!leftover && ctx.indexExists(body.name)) ctx.fail(`an index or relation named "${body.name}" already exists in schema "${ctx.schema}"`, 'name');
    const columns = body.columns.map((f, i) => {
      const col = ctx.requireColumn(table, f.column, `columns[${i}].column`);
      col.indexed = true;
      return col.physical;
    });
    ctx.claimRelationName(body.name);
    // Storage and operator class parameters are rendered again from their parse tree: only
    // `name = value` pairs reach the SQL.
    const safeBody = {
      ...body,
      columns: body.columns.map((f, i) => {
        const params = f.opclass?.params?.length ? safeStorageParameters(ctx, f.opclass.params.join(', '), `columns[${i}].opclass.params`) : undefined;
        return params !== undefined ? { ...f, opclass: { ...f.opclass, params: [params] } } : f;
      }),
      ...(body.storage_parameters !== undefined ? { storage_parameters: safeStorageParameters(ctx, body.storage_parameters, 'storage_parameters')! } : {}),
    };
    const r: Resolved = { schema: ctx.schema, table: table.physical, body: safeBody, columns };
    // Built for real on an empty temporary copy of the table's shape, in the rolled-back trial transaction.
    pushIndexTrials(ctx, {
      table,
      method: body.method ?? 'btree',
      unique: body.unique === true,
      elements: safeBody.columns.map((f, i) => ({
        column: columns[i]!,
        collate: f.collate,
        opclass: f.opclass?.name,
        opclassParams: f.opclass?.params?.[0],
        sort: f.sort,
        nulls: f.nulls,
      })),
      storageParameters: safeBody.storage_parameters,
      predicate: body.predicate,
    });
    if (table.createdByMigration) return directChange(ctx, table, [{ sql: indexSql(r, false), description: `create index ${body.name}` }], 'columns');
    return r;
  },

  start(r) {
    if (isDirect(r)) return directPhases.start(r);
    const action: Action = {
      sql: indexSql(r),
      lock: 'SHARE UPDATE EXCLUSIVE',
      table: qualified(r.schema, r.table),
      transactional: false,
      description: `create index ${r.body.name} concurrently`,
      concurrentIndex: { schema: r.schema, name: r.body.name },
    };
    return [action];
  },

  complete() {
    return [];
  },

  rollback(r) {
    if (isDirect(r)) return directPhases.rollback(r);
    return [
      {
        sql: `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(r.schema, r.body.name)}`,
        lock: 'SHARE UPDATE EXCLUSIVE',
        table: qualified(r.schema, r.table),
        transactional: false,
        description: `drop index ${r.body.name} concurrently`,
      },
    ];
  },
};
