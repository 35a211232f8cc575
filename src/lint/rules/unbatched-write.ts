import type { Node } from 'libpg-query';
import { as, displayRel, names, relName } from '../ast.js';
import { defineRule } from './define.js';

const RANGE_OPS = new Set(['<', '<=', '>', '>=', '=', '<>', '!=']);

function isColumn(n: Node | undefined): boolean {
  return as(n, 'ColumnRef') !== undefined || (as(n, 'TypeCast') !== undefined && isColumn(as(n, 'TypeCast')!.arg));
}

/**
 * Whether a WHERE clause limits the statement to a slice of the table. It is unbounded when it
 * only tests NULLs, booleans or joins columns to columns (the classic whole-table backfill
 * `WHERE new_col IS NULL`); any comparison with a value, IN list, subquery or function call
 * counts as a bound, so a batched statement is never flagged.
 */
export function isBounded(where: Node | undefined): boolean {
  if (!where) return false;
  const b = as(where, 'BoolExpr');
  if (b) {
    const args = b.args ?? [];
    if (b.boolop === 'AND_EXPR') return args.some(isBounded);
    if (b.boolop === 'OR_EXPR') return args.length > 0 && args.every(isBounded);
    return false; // NOT
  }
  if (as(where, 'NullTest') || as(where, 'BooleanTest') || as(where, 'A_Const')) return false;
  if (as(where, 'ColumnRef')) return false; // WHERE flag
  const e = as(where, 'A_Expr');
  if (e) {
    const op = names(e.name)[0] ?? '';
    if (e.kind === 'AEXPR_OP' && RANGE_OPS.has(op)) {
      // col = other_table.col joins; col = 42 bounds.
      return !(isColumn(e.lexpr) && isColumn(e.rexpr));
    }
    if (e.kind === 'AEXPR_DISTINCT' || e.kind === 'AEXPR_NOT_DISTINCT') return !(isColumn(e.lexpr) && isColumn(e.rexpr));
    return true;
  }
  return true;
}

export const unbatchedWrite = defineRule({
  id: 'unbatched-write',
  defaultSeverity: 'warning',
  on: ['UpdateStmt', 'DeleteStmt'],
  docs: {
    summary: 'UPDATE or DELETE of a whole existing table in one statement (an unbatched backfill)',
    why: 'One statement writes every row in one transaction: each row stays locked until it commits (application writes to them wait, deadlocks become likely), it produces a burst of WAL and dead tuples, replicas lag, and a failure redoes it all.',
    safe: 'Update in batches by primary-key range (WHERE id >= $1 AND id < $1 + 10000), each batch its own short transaction, until no row is left.',
    tandem: '`add_column` / `alter_column` with `up` — Tandem backfills in keyset batches, each its own transaction, skipping rows the application holds.',
    bad: "UPDATE users SET plan = 'free' WHERE plan IS NULL;",
    good: "UPDATE users SET plan = 'free' WHERE id >= 1 AND id < 10001 AND plan IS NULL;",
  },
  check(ctx) {
    const n = ctx.node;
    const rel = relName(n.relation);
    if (!rel || ctx.file.isNew(rel)) return undefined;
    if (isBounded(n.whereClause)) return undefined;
    const verb = ctx.kind === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
    const t = displayRel(rel);
    return [
      {
        message: `${verb} of every${n.whereClause ? ' matching' : ''} row of ${t} in one statement`,
        why: `one transaction ${verb === 'UPDATE' ? 'rewrites' : 'deletes'} ${n.whereClause ? 'what is potentially the whole table' : 'the whole table'}: every touched row of ${t} stays locked until it commits (application writes to them wait), with a burst of WAL, dead tuples and replica lag`,
        safe: `${verb} in batches by primary-key range (… WHERE id >= $1 AND id < $1 + 10000 …), each batch its own transaction`,
        lock: 'ROW EXCLUSIVE',
        rel,
      },
    ];
  },
});
