import type { Rule, StmtKind } from '../types.js';

/** Declares a rule; `on` narrows the statement node the check receives. */
export function defineRule<K extends StmtKind>(rule: Rule<K>): Rule {
  return rule as unknown as Rule;
}

/** `users` as it reads in messages (quoted when needed). */
export { displayRel as t } from '../ast.js';

/**
 * Byte offset of the first match of `re` in the statement's text (for subcommands the parse tree
 * gives no position for, like ALTER COLUMN … SET NOT NULL).
 */
export function locate(ctx: { sql: string; start: number }, re: RegExp): { location: number } | Record<string, never> {
  const m = re.exec(ctx.sql);
  if (!m) return {};
  return { location: ctx.start + Buffer.byteLength(ctx.sql.slice(0, m.index), 'utf8') };
}

/** A regular expression source matching an identifier as written (bare or quoted). */
export function identRe(name: string): string {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `(?:"${esc.replace(/"/g, '""')}"|${esc})`;
}
