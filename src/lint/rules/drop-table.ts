import { as, displayRel, names, relFromNames } from '../ast.js';
import type { Hit } from '../types.js';
import { defineRule } from './define.js';

export const dropTable = defineRule({
  id: 'drop-table',
  defaultSeverity: 'error',
  on: ['DropStmt'],
  docs: {
    summary: 'DROP TABLE breaks the application version that is still running (and loses the data)',
    why: 'The running version still queries the table: its queries fail from the moment the drop commits, and the data is gone — no rollback brings it back.',
    safe: 'Deploy code that no longer uses the table first, keep it (or a renamed copy) for a while, then drop it in a later migration.',
    tandem: '`drop_table` — hidden from the new version at start, dropped only at complete; rollback restores it.',
    bad: 'DROP TABLE sessions;',
    good: 'DROP TABLE sessions_tmp; -- a table created in the same file',
  },
  check(ctx) {
    const n = ctx.node;
    if (n.removeType !== 'OBJECT_TABLE') return undefined;
    const hits: Hit[] = [];
    for (const o of n.objects ?? []) {
      const rel = relFromNames(names(as(o, 'List')?.items));
      if (!rel || ctx.file.isNew(rel)) continue;
      hits.push({
        message: `table ${displayRel(rel)} dropped`,
        why: `the running application version still queries ${displayRel(rel)}: its queries fail from this commit, and the rows cannot be brought back (the drop also takes ACCESS EXCLUSIVE)`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
      });
    }
    return hits;
  },
});
