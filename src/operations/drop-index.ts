import { qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';
import type { OperationHandler } from './handler.js';

interface Resolved {
  schema: string;
  name: string;
  table: string;
}

/** The old version keeps the index until complete, which drops it CONCURRENTLY. */
export const dropIndex: OperationHandler<'drop_index', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.tableOfIndex(body.name);
    if (!table) ctx.fail(`index "${body.name}" does not exist in schema "${ctx.schema}"`, 'name');
    if (ctx.indexBacksConstraint(body.name)) {
      ctx.fail(`index "${body.name}" belongs to a constraint`, 'name', 'drop the constraint with drop_constraint instead');
    }
    return { schema: ctx.schema, name: body.name, table };
  },

  start() {
    return [];
  },

  complete(r) {
    return [
      {
        sql: `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(r.schema, r.name)}`,
        lock: 'SHARE UPDATE EXCLUSIVE',
        table: qualified(r.schema, r.table),
        transactional: false,
        description: `drop index ${r.name} concurrently`,
      },
    ];
  },

  rollback() {
    return [];
  },
};
