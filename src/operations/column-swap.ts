import type { Action } from '../plan/types.js';
import { ident, qualified } from '../sql/ident.js';

/**
 * The column swap at complete: the one place where several operations' statements on a table's
 * columns are composed rather than run one by one. Until complete, renames and drops only show in
 * the new version's views, and a changed column lives in a shadow; at complete each operation asks
 * for its part, from the columns as the whole migration leaves them:
 *   drop_column      ALTER TABLE … DROP COLUMN <the column>
 *   rename_column,
 *   alter_column name ALTER TABLE … RENAME COLUMN <physical> TO <final name>
 *   a shadow (alter_column type/nullable/default/…, create_constraint, drop_constraint)
 *                    ALTER TABLE … DROP COLUMN <old column>, then RENAME COLUMN <shadow> TO <final name>
 * The same part asked twice (a rename, then a type change of the same column) is run once. All
 * drops run first, so that a rename may take a dropped column's name; when one rename's target is
 * another's source (a ↔ b), the renames go through temporary names.
 */

/** One operation's part of its table's column swap: a column to drop, or a physical column to rename. */
export type ColumnSwapPart =
  { kind: 'column-swap'; schema: string; table: string; drop: string } | { kind: 'column-swap'; schema: string; table: string; rename: { from: string; to: string } };

/** What an operation's `complete` returns: actions, and its parts of the column swap. */
export type CompleteAction = Action | ColumnSwapPart;

export function isColumnSwapPart(a: CompleteAction): a is ColumnSwapPart {
  return 'kind' in a && a.kind === 'column-swap';
}

/** Drop a physical column of `table` at complete (after the old version's views are gone). */
export function swapDrop(schema: string, table: string, column: string): ColumnSwapPart {
  return { kind: 'column-swap', schema, table, drop: column };
}

/** Give a physical column of `table` its final name at complete; nothing if it has it already. */
export function swapRename(schema: string, table: string, from: string, to: string): ColumnSwapPart[] {
  return from === to ? [] : [{ kind: 'column-swap', schema, table, rename: { from, to } }];
}

/**
 * The swap's statements for one table. `present`: its physical columns at complete (those of the
 * catalog and those the migration added), to know which names are still taken.
 */
export function composeColumnSwap(schema: string, table: string, present: string[], parts: ColumnSwapPart[]): Action[] {
  const ref = qualified(schema, table);
  const act = (clause: string, description: string): Action => ({ sql: `ALTER TABLE ${ref} ${clause}`, lock: 'ACCESS EXCLUSIVE', table: ref, transactional: true, description });
  const dropped = new Set<string>();
  const renames = new Map<string, string>();
  for (const part of parts) {
    if ('drop' in part) dropped.add(part.drop);
    else {
      const earlier = renames.get(part.rename.from);
      if (earlier !== undefined && earlier !== part.rename.to) {
        throw new Error(`internal: column "${part.rename.from}" of "${table}" is renamed both to "${earlier}" and to "${part.rename.to}"`);
      }
      renames.set(part.rename.from, part.rename.to);
    }
  }
  // In the table's column order, then the columns the migration added.
  const drops = [...present.filter((p) => dropped.has(p)), ...[...dropped].filter((p) => !present.includes(p))];
  const actions = drops.map((p) => act(`DROP COLUMN ${ident(p)}`, `drop column ${p}`));
  const remaining = new Set(present.filter((p) => !dropped.has(p)));
  const list = [...renames].filter(([from]) => !dropped.has(from));
  const clash = list.some(([, to]) => remaining.has(to));
  list.forEach(([from, to], i) => {
    if (clash) actions.push(act(`RENAME COLUMN ${ident(from)} TO ${ident(`_tandem_swap_${i}`)}`, `rename ${from} (step 1 of 2)`));
    else actions.push(act(`RENAME COLUMN ${ident(from)} TO ${ident(to)}`, `rename ${from} to ${to}`));
  });
  if (clash) list.forEach(([from, to], i) => actions.push(act(`RENAME COLUMN ${ident(`_tandem_swap_${i}`)} TO ${ident(to)}`, `rename ${from} to ${to}`)));
  return actions;
}
