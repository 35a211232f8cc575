import { displayRel, relName } from '../ast.js';
import { defineRule } from './define.js';

export const cluster = defineRule({
  id: 'cluster',
  defaultSeverity: 'error',
  on: ['ClusterStmt'],
  docs: {
    summary: 'CLUSTER rewrites the table in index order under ACCESS EXCLUSIVE',
    why: 'CLUSTER copies the whole table in index order and rebuilds every index while holding ACCESS EXCLUSIVE: every query, reads included, waits for the whole copy.',
    safe: 'pg_repack --order-by (online), or accept the physical order; CLUSTER only in a maintenance window.',
    tandem: 'none — maintenance, not a schema change: run pg_repack outside the migration.',
    bad: 'CLUSTER users USING users_created_at_idx;',
    good: 'ALTER TABLE users CLUSTER ON users_created_at_idx; -- marks the index, rewrites nothing',
  },
  check(ctx) {
    const rel = relName(ctx.node.relation);
    if (rel && ctx.file.isNew(rel)) return undefined;
    return [
      {
        message: rel ? `CLUSTER ${displayRel(rel)}` : 'CLUSTER of every previously clustered table',
        why: `copies ${rel ? `all of ${displayRel(rel)}` : 'each clustered table'} in index order and rebuilds its indexes while holding ACCESS EXCLUSIVE: every query on it, reads included, waits until the copy ends`,
        lock: 'ACCESS EXCLUSIVE',
        ...(rel ? { rel } : {}),
      },
    ];
  },
});
