import { defineRule } from './define.js';
import { indexConstraintHits } from './index-constraint.js';

export const addExclusionConstraint = defineRule({
  id: 'add-exclusion-constraint',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'EXCLUDE constraint added to an existing table builds its index under ACCESS EXCLUSIVE (no concurrent form)',
    why: 'ADD CONSTRAINT … EXCLUDE builds its index and checks every row while holding ACCESS EXCLUSIVE: every query waits for the whole build. Unlike UNIQUE, it cannot adopt an index built CONCURRENTLY.',
    safe: 'There is no online form: declare it when the table is created (a new table, then move the data in batches), or enforce the rule with a trigger plus a concurrently built non-unique index, or schedule a maintenance window.',
    tandem: '`create_table` with the constraint on a new table; no online operation adds it to an existing one.',
    bad: 'ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);',
    good: 'CREATE TABLE bookings2 (room int, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&));',
  },
  check(ctx) {
    return indexConstraintHits(
      ctx,
      'CONSTR_EXCLUSION',
      () => 'no online form exists: declare the constraint on a new table and move the data in batches, enforce it with a trigger, or use a maintenance window',
    );
  },
});
