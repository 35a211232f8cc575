import type { OperationBody, OperationKind } from '../migration/schema.js';
import type { Action, LockLevel } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';
import type { CompleteAction } from './column-swap.js';
import type { OpContext } from './context.js';

/**
 * One operation kind. `validate` checks the operation against the schema as earlier operations
 * left it, updates that model, records what the table's sync trigger and backfill need, and
 * returns what the phases need. `start`, `complete` and `rollback` return actions; they never
 * run anything. `complete` may also return its parts of the table's column swap
 * (src/operations/column-swap.ts), which the planner composes with the other operations'.
 */
export interface OperationHandler<K extends OperationKind, R> {
  validate(body: OperationBody<K>, ctx: OpContext): R;
  start(resolved: R): Action[];
  complete(resolved: R): CompleteAction[];
  rollback(resolved: R): Action[];
}

/** Builds an action on an existing table. */
export function onTable(schema: string, table: string, sql: string, lock: LockLevel, description: string): Action {
  return { sql, lock, table: qualified(schema, table), transactional: true, description };
}

export function alterTable(schema: string, table: string, clause: string, lock: LockLevel, description: string): Action {
  return onTable(schema, table, `ALTER TABLE ${qualified(schema, table)} ${clause}`, lock, description);
}

/** A default that is a plain literal can be added with the column without a table rewrite. */
export function isConstantDefault(expr: string): boolean {
  return /^\s*(?:'(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?|true|false|null)\s*(?:::\s*[A-Za-z_][\w\s]*(?:\([\d,\s]*\))?(?:\[\])?)?\s*$/i.test(expr);
}

/** VALIDATE takes SHARE UPDATE EXCLUSIVE: reads and writes go on while it scans. */
export function validateConstraint(schema: string, table: string, constraint: string): Action {
  return { ...alterTable(schema, table, `VALIDATE CONSTRAINT ${ident(constraint)}`, 'SHARE UPDATE EXCLUSIVE', `validate ${constraint}`), scans: true };
}
