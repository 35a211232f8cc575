import { displayRel, relName } from '../ast.js';
import { defineRule } from './define.js';

export const renameTable = defineRule({
  id: 'rename-table',
  defaultSeverity: 'error',
  on: ['RenameStmt'],
  docs: {
    summary: 'RENAME of a table breaks the application version that is still running',
    why: 'Instances of the running version still query the old name: they fail from the moment the rename commits until every instance runs the new code.',
    safe: 'Rename, then create a view with the old name over the new table (simple views are updatable), deploy, then drop the view — or expand/contract through a new table.',
    tandem: '`rename_table` — each application version sees the name it expects through its version schema.',
    bad: 'ALTER TABLE users RENAME TO accounts;',
    good: 'ALTER TABLE users_staging RENAME TO users_v2; -- a table created in the same file',
  },
  check(ctx) {
    const n = ctx.node;
    if (n.renameType !== 'OBJECT_TABLE' && n.renameType !== 'OBJECT_FOREIGN_TABLE') return undefined;
    const rel = relName(n.relation);
    if (!rel || ctx.file.isNew(rel)) return undefined;
    return [
      {
        message: `table ${displayRel(rel)} renamed to ${n.newname ?? '?'}`,
        why: `the running application version still queries ${displayRel(rel)}: its queries fail from this commit until every instance is redeployed`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
      },
    ];
  },
});
