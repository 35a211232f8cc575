import { qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';
import type { OperationHandler } from './handler.js';

interface Resolved {
  schema: string;
  table: string;
}

/** Hidden from the new version at start (no view); dropped at complete. */
export const dropTable: OperationHandler<'drop_table', Resolved> = {
  validate(body, ctx: OpContext) {
    const table = ctx.requireTable(body.name, 'name');
    if (table.createdByMigration) ctx.fail(`table "${body.name}" is created by this same migration`, 'name');
    const dependents = ctx.dependentsOf(table.physical);
    if (dependents.length) {
      ctx.fail(
        `table "${body.name}" is still referenced by ${dependents.join(', ')}; complete could not drop it`,
        'name',
        'drop those references first (e.g. drop_constraint on the foreign key), in an earlier migration or earlier in this one',
      );
    }
    ctx.model.tables.delete(body.name);
    ctx.claimRelationName(table.physical);
    return { schema: ctx.schema, table: table.physical };
  },

  /** Nothing on the table: the new version schema has no view of it (src/plan/version-schema.ts viewSql, one view per table made by the planner's create-version-schema step). */
  start() {
    return [];
  },

  complete(r) {
    const table = qualified(r.schema, r.table);
    return [{ sql: `DROP TABLE ${table}`, lock: 'ACCESS EXCLUSIVE', table, transactional: true, description: `drop table ${r.table}` }];
  },

  /** Nothing: start changed no table. */
  rollback() {
    return [];
  },
};
