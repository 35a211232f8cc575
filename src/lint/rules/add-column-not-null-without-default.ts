import { addedColumnHits } from '../facts.js';
import { defineRule } from './define.js';

export const addColumnNotNullWithoutDefault = defineRule({
  id: 'add-column-not-null-without-default',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'ADD COLUMN … NOT NULL without a default fails on a table that has rows',
    why: 'Existing rows would get NULL in a NOT NULL column, so PostgreSQL aborts the migration ("column … contains null values") — on every non-empty table, i.e. in production.',
    safe: 'Add it with a constant default (NOT NULL DEFAULT 0: no rewrite from PostgreSQL 11), or add it nullable, backfill in batches, then NOT NULL through a validated CHECK.',
    tandem: '`add_column` with `nullable: false` and `up` — existing rows are filled in batches before NOT NULL is enforced.',
    bad: 'ALTER TABLE users ADD COLUMN plan text NOT NULL;',
    good: "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';",
  },
  check(ctx) {
    return addedColumnHits(ctx.node, ctx.file, (info, col, { rel, display: t }) => {
      if (!info.notNull || !info.defaultIsNull || info.serial || info.identity || info.generated) return undefined;
      const stats = ctx.file.table(rel);
      return {
        message: `column ${info.name} added to ${t} as NOT NULL without a default`,
        why:
          `every existing row of ${t} would hold NULL, so PostgreSQL aborts the statement ("column \\"${info.name}\\" of relation \\"${rel.name}\\" contains null values")` +
          (stats && stats.rows !== null ? ` — ${t} has about ${Math.round(stats.rows)} rows` : ''),
        safe:
          ctx.file.pgVersion >= 11
            ? `ALTER TABLE ${t} ADD COLUMN ${info.name} … NOT NULL DEFAULT <constant>; (no rewrite from PostgreSQL 11), or add it nullable, backfill in batches, then NOT NULL via a validated CHECK`
            : `add it nullable, backfill in batches, then NOT NULL via a validated CHECK`,
        rel,
        ...(col.location !== undefined ? { location: col.location } : {}),
      };
    });
  },
});
