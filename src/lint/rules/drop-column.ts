import { displayRel, relName } from '../ast.js';
import { alterCmds } from '../facts.js';
import type { Hit } from '../types.js';
import { defineRule, identRe, locate } from './define.js';

export const dropColumn = defineRule({
  id: 'drop-column',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'DROP COLUMN breaks the application version that is still running',
    why: 'The running version still selects and inserts the column: its queries fail (and ORMs that list every column break) from the moment the drop commits until every instance runs the new code.',
    safe: 'Deploy code that no longer uses the column first (ignore it in the ORM), then drop it in a later migration.',
    tandem: '`drop_column` — the column disappears from the new version at start (with `down` filling it for the old version) and is dropped at complete.',
    bad: 'ALTER TABLE users DROP COLUMN legacy_flag;',
    good: 'ALTER TABLE users_staging DROP COLUMN legacy_flag; -- a table created in the same file',
  },
  check(ctx) {
    const rel = relName(ctx.node.relation);
    if (!rel || ctx.file.isNew(rel)) return undefined;
    const hits: Hit[] = [];
    for (const cmd of alterCmds(ctx.node)) {
      if (cmd.subtype !== 'AT_DropColumn') continue;
      hits.push({
        message: `column ${displayRel(rel)}.${cmd.name ?? '?'} dropped`,
        why: `the running application version still uses ${displayRel(rel)}.${cmd.name ?? '?'}: its queries fail from this commit until every instance is redeployed (the drop also takes ACCESS EXCLUSIVE on ${displayRel(rel)}, briefly)`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...locate(ctx, new RegExp(`\\bDROP\\s+(?:COLUMN\\s+)?(?:IF\\s+EXISTS\\s+)?${identRe(cmd.name ?? '')}`, 'i')),
      });
    }
    return hits;
  },
});
