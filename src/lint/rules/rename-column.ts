import { displayRel, relName } from '../ast.js';
import { defineRule } from './define.js';

export const renameColumn = defineRule({
  id: 'rename-column',
  defaultSeverity: 'error',
  on: ['RenameStmt'],
  docs: {
    summary: 'RENAME COLUMN breaks the application version that is still running',
    why: 'Instances of the running version still use the old name: their queries fail from the moment the rename commits until every instance runs the new code (a deploy is never atomic).',
    safe: 'Expand/contract: add the new column, keep both in step with a trigger, deploy code that uses the new name, then drop the old one — or expose both names through views.',
    tandem: '`rename_column` — the old version keeps seeing the old name through its version schema, the new version sees the new one.',
    bad: 'ALTER TABLE users RENAME COLUMN name TO full_name;',
    good: 'ALTER TABLE users_staging RENAME COLUMN name TO full_name; -- a table created in the same file',
  },
  check(ctx) {
    const n = ctx.node;
    if (n.renameType !== 'OBJECT_COLUMN' || (n.relationType !== 'OBJECT_TABLE' && n.relationType !== 'OBJECT_FOREIGN_TABLE')) return undefined;
    const rel = relName(n.relation);
    if (!rel || ctx.file.isNew(rel)) return undefined;
    const t = displayRel(rel);
    return [
      {
        message: `column ${t}.${n.subname ?? '?'} renamed to ${n.newname ?? '?'}`,
        why: `the running application version still reads and writes ${t}.${n.subname ?? '?'}: its queries fail from this commit until every instance is redeployed (the rename also takes ACCESS EXCLUSIVE on ${t}, briefly)`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
      },
    ];
  },
});
