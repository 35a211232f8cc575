import { addedColumnHits } from '../facts.js';
import { defineRule } from './define.js';

export const addColumnVolatileDefault = defineRule({
  id: 'add-column-volatile-default',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'ADD COLUMN with a VOLATILE default (or any default before PostgreSQL 11) rewrites the table',
    why: 'A VOLATILE default (random(), clock_timestamp(), gen_random_uuid(), nextval()…) is evaluated for every existing row, so the table and its indexes are rewritten under ACCESS EXCLUSIVE. Non-volatile defaults (constants, now(), current_timestamp) are stored once in the catalog from PostgreSQL 11: no rewrite.',
    safe: 'Add the column without the default (or with a constant one), ALTER COLUMN … SET DEFAULT … for new rows (no rewrite), then fill existing rows in batches.',
    tandem: '`add_column` with `up: <the expression>` — the column is added without a rewrite and existing rows are backfilled in batches.',
    bad: 'ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();',
    good: 'ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();',
  },
  check(ctx) {
    return addedColumnHits(ctx.node, ctx.file, (info, _col, { rel, display: t }) => {
      // serial / identity / generated have their own rules.
      if (!info.rewrite || info.serial || info.identity || info.generated) return undefined;
      const pre11 = !info.volatileDefault;
      return {
        message: pre11
          ? `column ${info.name} added to ${t} with a default (PostgreSQL ${ctx.file.pgVersion} < 11)`
          : `column ${info.name} added to ${t} with a VOLATILE default ${info.volatileDefault!.name}()`,
        why: `${info.rewrite.reason}, holding ACCESS EXCLUSIVE on ${t}: every query on ${t}, reads included, waits until the rewrite ends`,
        safe: `ALTER TABLE ${t} ADD COLUMN ${info.name} … without the default; ALTER TABLE ${t} ALTER COLUMN ${info.name} SET DEFAULT …; (new rows only, no rewrite) then backfill existing rows in batches`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...(info.rewrite.location !== undefined ? { location: info.rewrite.location } : {}),
      };
    });
  },
});
