import { as, displayRel, relName, type RelName } from '../ast.js';
import { alterCmds, analyzeAddColumn } from '../facts.js';
import type { Hit } from '../types.js';
import { defineRule } from './define.js';

export const foreignKeyWithoutNotValid = defineRule({
  id: 'foreign-key-without-not-valid',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'FOREIGN KEY added to an existing table without NOT VALID scans it while blocking writes on both tables',
    why: 'Adding a foreign key validates every existing row while holding SHARE ROW EXCLUSIVE on the table and on the referenced table: INSERT, UPDATE and DELETE on both wait for the whole scan.',
    safe: 'ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY … NOT VALID; then, in a separate transaction, ALTER TABLE … VALIDATE CONSTRAINT … (SHARE UPDATE EXCLUSIVE: reads and writes go on).',
    tandem: '`create_constraint` with `type: foreign_key` — added NOT VALID, validated later without blocking writes.',
    bad: 'ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);',
    good: 'ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;',
  },
  check(ctx) {
    const rel = relName(ctx.node.relation);
    if (!rel || ctx.file.isNew(rel)) return undefined;
    const hits: Hit[] = [];
    const why = (ref: RelName | undefined) =>
      `validating it scans every row of ${displayRel(rel)} while holding SHARE ROW EXCLUSIVE on ${displayRel(rel)}${ref ? ` and ${displayRel(ref)}` : ''}: INSERT, UPDATE and DELETE on both wait until the scan ends`;
    for (const cmd of alterCmds(ctx.node)) {
      if (cmd.subtype === 'AT_AddConstraint') {
        const c = as(cmd.def, 'Constraint');
        if (c?.contype !== 'CONSTR_FOREIGN' || c.skip_validation) continue;
        const ref = relName(c.pktable);
        hits.push({
          message: `FOREIGN KEY${c.conname ? ` ${c.conname}` : ''} added to ${displayRel(rel)} without NOT VALID`,
          why: why(ref),
          safe: `ADD CONSTRAINT ${c.conname ?? '…'} FOREIGN KEY (…) REFERENCES ${ref ? displayRel(ref) : '…'} (…) NOT VALID; then in its own transaction: ALTER TABLE ${displayRel(rel)} VALIDATE CONSTRAINT ${c.conname ?? '…'};`,
          lock: 'SHARE ROW EXCLUSIVE',
          rel,
          ...(c.location !== undefined ? { location: c.location } : {}),
        });
      } else if (cmd.subtype === 'AT_AddColumn') {
        const col = as(cmd.def, 'ColumnDef');
        if (!col) continue;
        for (const fk of analyzeAddColumn(col, ctx.file).foreignKeys) {
          const ref = relName(fk.pktable);
          hits.push({
            message: `column ${col.colname ?? ''} added to ${displayRel(rel)} with REFERENCES (always validated)`,
            why: `the column is added under ACCESS EXCLUSIVE and its foreign key is ${why(ref).replace(/^validating it /, 'validated by a scan that ')}`,
            safe: `add the column without REFERENCES, then ADD CONSTRAINT … FOREIGN KEY (${col.colname ?? '…'}) REFERENCES ${ref ? displayRel(ref) : '…'} NOT VALID, then VALIDATE CONSTRAINT in its own transaction`,
            lock: 'ACCESS EXCLUSIVE',
            rel,
            ...(fk.location !== undefined ? { location: fk.location } : {}),
          });
        }
      }
    }
    return hits;
  },
});
