import { as, displayRel, relName } from '../ast.js';
import { alterCmds, analyzeAddColumn } from '../facts.js';
import type { Hit } from '../types.js';
import { defineRule } from './define.js';

export const checkWithoutNotValid = defineRule({
  id: 'check-without-not-valid',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'CHECK constraint added to an existing table without NOT VALID scans it under ACCESS EXCLUSIVE',
    why: 'Adding a CHECK constraint checks every existing row while holding ACCESS EXCLUSIVE on the table: every query, reads included, waits for the whole scan.',
    safe: 'ALTER TABLE … ADD CONSTRAINT … CHECK (…) NOT VALID; then, in a separate transaction, ALTER TABLE … VALIDATE CONSTRAINT … (SHARE UPDATE EXCLUSIVE: reads and writes go on).',
    tandem: '`create_constraint` with `type: check` (or `alter_column` with `check`) — added NOT VALID, rows fixed by `up`, validated without blocking.',
    bad: 'ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age >= 0);',
    good: 'ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age >= 0) NOT VALID;',
  },
  check(ctx) {
    const rel = relName(ctx.node.relation);
    if (!rel || ctx.file.isNew(rel)) return undefined;
    const hits: Hit[] = [];
    const t = displayRel(rel);
    for (const cmd of alterCmds(ctx.node)) {
      if (cmd.subtype === 'AT_AddConstraint') {
        const c = as(cmd.def, 'Constraint');
        if (c?.contype !== 'CONSTR_CHECK' || c.skip_validation) continue;
        hits.push({
          message: `CHECK constraint${c.conname ? ` ${c.conname}` : ''} added to ${t} without NOT VALID`,
          why: `checks every row of ${t} while holding ACCESS EXCLUSIVE: every query on ${t}, reads included, waits for the whole scan`,
          safe: `ADD CONSTRAINT ${c.conname ?? '…'} CHECK (…) NOT VALID; then in its own transaction: ALTER TABLE ${t} VALIDATE CONSTRAINT ${c.conname ?? '…'};`,
          lock: 'ACCESS EXCLUSIVE',
          rel,
          ...(c.location !== undefined ? { location: c.location } : {}),
        });
      } else if (cmd.subtype === 'AT_AddColumn') {
        const col = as(cmd.def, 'ColumnDef');
        if (!col) continue;
        for (const c of analyzeAddColumn(col, ctx.file).checks) {
          hits.push({
            message: `column ${col.colname ?? ''} added to ${t} with an inline CHECK (always validated)`,
            why: `the column is added under ACCESS EXCLUSIVE and the check is verified against every row of ${t} before the lock is released`,
            safe: `add the column without the CHECK, then ADD CONSTRAINT … CHECK (…) NOT VALID and VALIDATE CONSTRAINT in its own transaction`,
            lock: 'ACCESS EXCLUSIVE',
            rel,
            ...(c.location !== undefined ? { location: c.location } : {}),
          });
        }
      }
    }
    return hits;
  },
});
