import { addedColumnHits } from '../facts.js';
import { defineRule } from './define.js';

export const addColumnSerial = defineRule({
  id: 'add-column-serial',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'ADD COLUMN of type serial/bigserial or GENERATED … AS IDENTITY rewrites the table',
    why: 'A serial or identity column draws a value from its sequence for every existing row: the table and its indexes are rewritten while holding ACCESS EXCLUSIVE.',
    safe: 'Add a plain nullable integer column, CREATE SEQUENCE, ALTER COLUMN … SET DEFAULT nextval(…) (new rows only, no rewrite), backfill existing rows in batches, then NOT NULL through a validated CHECK.',
    tandem: "`add_column` with `up: nextval('<sequence>')` — added without a rewrite, existing rows backfilled in batches.",
    bad: 'ALTER TABLE events ADD COLUMN seq bigserial;',
    good: "ALTER TABLE events ADD COLUMN seq bigint; ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq');",
  },
  check(ctx) {
    return addedColumnHits(ctx.node, ctx.file, (info, _col, { rel, display: t }) => {
      if (!(info.serial || info.identity) || !info.rewrite) return undefined;
      return {
        message: `column ${info.name} added to ${t} as ${info.serial ? 'serial' : 'an identity column'}`,
        why: `${info.rewrite.reason}, holding ACCESS EXCLUSIVE on ${t}: every query on ${t}, reads included, waits until the rewrite ends`,
        safe: `ALTER TABLE ${t} ADD COLUMN ${info.name} bigint; CREATE SEQUENCE …; ALTER TABLE ${t} ALTER COLUMN ${info.name} SET DEFAULT nextval('…'); then backfill existing rows in batches`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...(info.rewrite.location !== undefined ? { location: info.rewrite.location } : {}),
      };
    });
  },
});
