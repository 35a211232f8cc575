import { displayRel, relName } from '../ast.js';
import { defineRule } from './define.js';
import { indexConstraintHits } from './index-constraint.js';

export const addPrimaryKey = defineRule({
  id: 'add-primary-key',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'PRIMARY KEY added to an existing table builds its index (and checks NOT NULL) under ACCESS EXCLUSIVE',
    why: 'ADD PRIMARY KEY builds a unique index by reading the whole table, and sets its columns NOT NULL (another scan), all while holding ACCESS EXCLUSIVE: every query waits.',
    safe: 'Make the columns NOT NULL without a scan (validated CHECK, see set-not-null), CREATE UNIQUE INDEX CONCURRENTLY, then ALTER TABLE … ADD CONSTRAINT … PRIMARY KEY USING INDEX … (instant).',
    tandem: '`create_constraint` with `type: primary_key` — NOT NULL through a validated check, the index built CONCURRENTLY, then adopted.',
    bad: 'ALTER TABLE events ADD PRIMARY KEY (id);',
    good: 'ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx;',
  },
  check(ctx) {
    const rel = relName(ctx.node.relation);
    const t = rel ? displayRel(rel) : 't';
    return indexConstraintHits(ctx, 'CONSTR_PRIMARY', (c, cols) => {
      const name = c?.conname ?? `${rel?.name ?? 't'}_pkey`;
      return `make (${cols || '…'}) NOT NULL via a validated CHECK (see set-not-null), CREATE UNIQUE INDEX CONCURRENTLY ${name} ON ${t} (${cols || '…'}); then ALTER TABLE ${t} ADD CONSTRAINT ${name} PRIMARY KEY USING INDEX ${name};`;
    });
  },
});
