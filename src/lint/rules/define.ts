import type { Rule, StmtKind } from '../types.js';

/** Declares a rule; `on` narrows the statement node the check receives. */
export function defineRule<K extends StmtKind>(rule: Rule<K>): Rule {
  return rule as unknown as Rule;
}

/** `users` as it reads in messages (quoted when needed). */
export { displayRel as t } from '../ast.js';
