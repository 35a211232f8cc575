import type { VTable } from '../model/virtual-schema.js';
import type { Action } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';

/**
 * An operation on a table that an earlier operation of the same migration creates. No old version
 * sees that table (it has no view in the previous version schema and no rows), so there is nothing
 * to keep in sync: the change is plain DDL, applied directly. Its statements join the table's
 * expand transaction, right after its CREATE TABLE, so no one ever sees the table half-made; no
 * shadow column, no trigger, no backfill. Rollback drops the table, which undoes them all.
 */
export interface DirectChange {
  /** Physical table: groups the statements with the CREATE TABLE. */
  table: string;
  direct: Action[];
  /**
   * Rollback, when the change joins another table's transaction: a foreign key to a table created
   * later is dropped before that table is (rollback undoes tables in reverse order).
   */
  undo?: Action[];
}

export function isDirect(resolved: unknown): resolved is DirectChange {
  return typeof resolved === 'object' && resolved !== null && 'direct' in resolved;
}

/**
 * The statements of a direct change. Each is also tried (after the trial CREATE TABLE, in the
 * rolled-back validation transaction), so a mistake is invalid input pointing at `field`.
 */
export function directChange(
  ctx: OpContext,
  table: VTable,
  statements: { sql: string; description: string }[],
  field: string,
  opts: { references?: string[]; constraint?: string } = {},
): DirectChange {
  const ref = qualified(ctx.schema, table.physical);
  const direct: Action[] = statements.map((s) => ({
    sql: s.sql,
    lock: 'ACCESS EXCLUSIVE',
    table: ref,
    transactional: true,
    description: `${s.description} (table created by this migration)`,
  }));
  for (const action of direct) {
    ctx.checks.push({ kind: 'statement', sql: action.sql, scope: 'none', operationIndex: ctx.index, operation: ctx.operation, field });
  }
  const group = groupFor(ctx, table, opts.references ?? []);
  if (group === table || opts.constraint === undefined) return { table: table.physical, direct };
  const undo: Action = {
    sql: `ALTER TABLE ${ref} DROP CONSTRAINT IF EXISTS ${ident(opts.constraint)}`,
    lock: 'ACCESS EXCLUSIVE',
    table: ref,
    transactional: true,
    description: `drop foreign key ${opts.constraint} (table created by this migration)`,
  };
  return { table: group.physical, direct, undo: [undo] };
}

/**
 * The table whose expand transaction the statements join: their own, unless they reference (a
 * foreign key) a table this migration creates after it; then that table's, which runs later,
 * once both exist. Tables are expanded in the order the migration first touches them.
 */
function groupFor(ctx: OpContext, table: VTable, referenced: string[]): VTable {
  let group = table;
  for (const name of referenced) {
    const other = ctx.model.table(name);
    if (other?.createdByMigration && creationIndex(other) > creationIndex(group)) group = other;
  }
  return group;
}

/** The operation that created a table of this migration (its create_table columns carry it). */
function creationIndex(t: VTable): number {
  return Math.min(...t.columns.map((c) => c.touchedBy ?? Number.POSITIVE_INFINITY));
}

export const directPhases = {
  start: (r: DirectChange): Action[] => r.direct,
  complete: (): Action[] => [],
  rollback: (r: DirectChange): Action[] => r.undo ?? [],
};

/** `up`/`down` given for a table no old version sees: nothing to convert, so they are not used. */
export function ignoreSyncExpressions(ctx: OpContext, table: VTable, given: Record<string, unknown>): void {
  const fields = Object.entries(given)
    .filter(([, v]) => v !== undefined && v !== '' && !(typeof v === 'object' && v !== null && Object.keys(v).length === 0))
    .map(([k]) => k);
  if (fields.length) {
    ctx.warn(`${fields.join(' and ')} ignored: table "${table.name}" is created by this migration, no old version writes it`, fields[0]!);
  }
}
