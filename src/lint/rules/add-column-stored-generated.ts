import { addedColumnHits } from '../facts.js';
import { defineRule } from './define.js';

export const addColumnStoredGenerated = defineRule({
  id: 'add-column-stored-generated',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'ADD COLUMN … GENERATED ALWAYS AS (…) STORED rewrites the table',
    why: 'A STORED generated column is computed and written for every existing row: the table and its indexes are rewritten while holding ACCESS EXCLUSIVE. (PostgreSQL 18 VIRTUAL generated columns are computed on read: no rewrite.)',
    safe: 'Add a plain nullable column, keep it in step with a trigger for new writes, backfill existing rows in batches — or, on PostgreSQL 18, a VIRTUAL generated column.',
    tandem: '`add_column` with `up: <the expression>` — a sync trigger computes it on write, existing rows are backfilled in batches.',
    bad: 'ALTER TABLE users ADD COLUMN email_lower text GENERATED ALWAYS AS (lower(email)) STORED;',
    good: 'ALTER TABLE users ADD COLUMN email_lower text;',
  },
  check(ctx) {
    return addedColumnHits(ctx.node, ctx.file, (info, _col, { rel, display: t }) => {
      if (info.generated !== 'stored' || !info.rewrite) return undefined;
      return {
        message: `column ${info.name} added to ${t} as a STORED generated column`,
        why: `${info.rewrite.reason}, holding ACCESS EXCLUSIVE on ${t}: every query on ${t}, reads included, waits until the rewrite ends`,
        safe:
          `add ${info.name} as a plain nullable column, fill it for new writes with a trigger and for existing rows in batches` +
          (ctx.file.pgVersion >= 18 ? '; or make it VIRTUAL (computed on read, no rewrite)' : ''),
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...(info.rewrite.location !== undefined ? { location: info.rewrite.location } : {}),
      };
    });
  },
});
