import { ident } from '../sql/ident.js';
import type { OpContext } from './context.js';
import { alterTable, type OperationHandler } from './handler.js';

interface Resolved {
  schema: string;
  table: string;
  identity: string;
  previous: string;
}

const clause = (type: string, index: string | null | undefined) => (type === 'INDEX' ? `USING INDEX ${ident(index ?? '')}` : type);

/** Takes effect at start (it only changes what logical decoding logs); rollback restores it. */
export const setReplicaIdentity: OperationHandler<'set_replica_identity', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.table);
    const type = body.identity.type.toUpperCase();
    if (!['FULL', 'DEFAULT', 'NOTHING', 'INDEX'].includes(type)) {
      ctx.fail(`replica identity type must be FULL, DEFAULT, NOTHING or INDEX, not "${body.identity.type}"`, 'identity.type');
    }
    if (type === 'INDEX' && ctx.tableOfIndex(body.identity.index) !== table.physical) {
      ctx.fail(`index "${body.identity.index}" is not an index of table "${body.table}"`, 'identity.index');
    }
    if (type === 'INDEX') {
      // What ALTER TABLE … REPLICA IDENTITY USING INDEX requires, checked here rather than failing at start.
      const cat = ctx.catalog.get(table.physical);
      const idx = cat?.indexes.find((i) => i.name === body.identity.index);
      if (idx && (!idx.unique || idx.partial || idx.expression || !idx.valid || idx.columns.some((c) => !cat!.columns.find((col) => col.name === c)?.notNull))) {
        ctx.fail(`index "${idx.name}" cannot be a replica identity: it must be a valid unique index, not partial, not on expressions, over NOT NULL columns`, 'identity.index');
      }
    }
    const prev = ctx.replicaIdentityOf(table.physical);
    return {
      schema: ctx.schema,
      table: table.physical,
      identity: clause(type, body.identity.index),
      previous: clause(prev.type, prev.index),
    };
  },

  start(r) {
    return [alterTable(r.schema, r.table, `REPLICA IDENTITY ${r.identity}`, 'ACCESS EXCLUSIVE', 'set replica identity')];
  },

  complete() {
    return [];
  },

  rollback(r) {
    return [alterTable(r.schema, r.table, `REPLICA IDENTITY ${r.previous}`, 'ACCESS EXCLUSIVE', 'restore replica identity')];
  },
};
