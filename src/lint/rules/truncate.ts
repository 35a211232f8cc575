import { as, displayRel, relName } from '../ast.js';
import type { Hit } from '../types.js';
import { defineRule } from './define.js';

export const truncate = defineRule({
  id: 'truncate',
  defaultSeverity: 'error',
  on: ['TruncateStmt'],
  docs: {
    summary: 'TRUNCATE takes ACCESS EXCLUSIVE and removes every row under the running application',
    why: 'TRUNCATE takes ACCESS EXCLUSIVE (every query waits, and it queues behind long-running ones) and empties the table under the running version, with CASCADE also emptying referencing tables.',
    safe: 'Delete in batches (each batch its own transaction), or stop using the table first and drop it in a later migration.',
    tandem: 'none for data removal; `drop_table` retires a table without breaking the running version.',
    bad: 'TRUNCATE audit_log;',
    good: 'TRUNCATE staging_import; -- a table created in the same file',
  },
  check(ctx) {
    const hits: Hit[] = [];
    for (const r of ctx.node.relations ?? []) {
      const rv = as(r, 'RangeVar');
      const rel = relName(rv);
      if (!rel || ctx.file.isNew(rel)) continue;
      hits.push({
        message: `TRUNCATE ${displayRel(rel)}`,
        why: `takes ACCESS EXCLUSIVE on ${displayRel(rel)} (every query waits, behind any long-running one) and removes every row under the running application${ctx.node.behavior === 'DROP_CASCADE' ? ', and CASCADE empties the tables that reference it too' : ''}`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...((ctx.node.relations?.length ?? 0) > 1 && rv?.location !== undefined ? { location: rv.location } : {}),
      });
    }
    return hits;
  },
});
