import type { OperationBody } from '../migration/schema.js';
import type { Action } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';
import type { OperationHandler } from './handler.js';

interface Resolved {
  schema: string;
  table: string;
  body: OperationBody<'create_index'>;
  /** Index columns as physical columns. */
  columns: string[];
}

function indexSql(r: Resolved): string {
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
    `CREATE ${b.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY IF NOT EXISTS ${ident(b.name)} ON ${qualified(r.schema, r.table)}` +
    `${b.method ? ` USING ${b.method}` : ''} (${elements.join(', ')})` +
    `${b.storage_parameters ? ` WITH (${b.storage_parameters})` : ''}${b.predicate ? ` WHERE (${b.predicate})` : ''}`
  );
}

/**
 * Built CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on), outside any transaction.
 * A build that fails or is killed leaves an invalid index; the executor drops it and builds again.
 */
export const createIndex: OperationHandler<'create_index', Resolved> = {
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
    const r: Resolved = { schema: ctx.schema, table: table.physical, body, columns };
    if (body.predicate || body.storage_parameters || body.columns.some((c) => c.opclass || c.collate)) {
      // Tried on an empty copy of the table's shape, inside the rolled-back validation transaction.
      ctx.checks.push({
        kind: 'statement',
        sql: `EXPLAIN SELECT 1 FROM ${qualified(ctx.schema, table.physical)}${body.predicate ? ` WHERE (${body.predicate})` : ''}`,
        scope: 'none',
        operationIndex: ctx.index,
        operation: ctx.operation,
        field: 'predicate',
      });
    }
    return r;
  },

  start(r) {
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
