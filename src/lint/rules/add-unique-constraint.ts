import { displayRel, relName } from '../ast.js';
import { defineRule } from './define.js';
import { indexConstraintHits } from './index-constraint.js';

export const addUniqueConstraint = defineRule({
  id: 'add-unique-constraint',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'UNIQUE constraint added to an existing table builds its index under ACCESS EXCLUSIVE',
    why: 'ADD CONSTRAINT … UNIQUE builds a unique index by reading the whole table while holding ACCESS EXCLUSIVE: every query, reads included, waits for the whole build.',
    safe: 'CREATE UNIQUE INDEX CONCURRENTLY … ON t (cols); then ALTER TABLE t ADD CONSTRAINT … UNIQUE USING INDEX … (a catalog change, instant).',
    tandem: '`create_constraint` with `type: unique` (or `alter_column` with `unique`) — the index is built CONCURRENTLY first.',
    bad: 'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);',
    good: 'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;',
  },
  check(ctx) {
    const rel = relName(ctx.node.relation);
    return indexConstraintHits(ctx, 'CONSTR_UNIQUE', (c, cols) => {
      const name = c?.conname ?? 'the_key';
      return `CREATE UNIQUE INDEX CONCURRENTLY ${name} ON ${rel ? displayRel(rel) : 't'} (${cols || '…'}); then ALTER TABLE ${rel ? displayRel(rel) : 't'} ADD CONSTRAINT ${name} UNIQUE USING INDEX ${name};`;
    });
  },
});
