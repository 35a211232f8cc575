import { displayRel, relName, typeText } from '../ast.js';
import { alterCmds, typeChangeOf } from '../facts.js';
import type { Hit } from '../types.js';
import { defineRule } from './define.js';

export const alterColumnType = defineRule({
  id: 'alter-column-type',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'ALTER COLUMN … TYPE that rewrites the table and its indexes under ACCESS EXCLUSIVE',
    why: 'Changing a column type converts every value: the table and all its indexes are rewritten while holding ACCESS EXCLUSIVE — every query waits for the whole rewrite. Binary-compatible changes are exempt (varchar(n) → varchar(m ≥ n), varchar → text, numeric(p,s) → numeric(q ≥ p,s), cidr → inet, timestamp(tz) precision increase); schema-aware mode knows the current type.',
    safe: 'Add a new column of the new type, keep both in step with a trigger, backfill in batches, move readers and writers over, then drop the old column.',
    tandem: '`alter_column` with `type`, `up` and `down` — a shadow column, a sync trigger and a batched backfill; both application versions keep working.',
    bad: 'ALTER TABLE users ALTER COLUMN id TYPE bigint;',
    good: 'ALTER TABLE users ALTER COLUMN name TYPE varchar(200); -- widening varchar(100): no rewrite',
  },
  check(ctx) {
    const rel = relName(ctx.node.relation);
    if (!rel || ctx.file.isNew(rel)) return undefined;
    const t = displayRel(rel);
    const hits: Hit[] = [];
    for (const cmd of alterCmds(ctx.node)) {
      const tc = typeChangeOf(cmd, rel, ctx.file);
      if (!tc || tc.verdict === 'no-rewrite') continue;
      const from = tc.from ? ` from ${typeText(tc.from)}` : '';
      hits.push({
        message:
          tc.verdict === 'rewrite'
            ? `changing ${t}.${tc.column}${from} to ${typeText(tc.to)} rewrites the table`
            : `changing ${t}.${tc.column}${from} to ${typeText(tc.to)} may rewrite the table`,
        why: `${tc.reason}; a rewrite holds ACCESS EXCLUSIVE on ${t} while every row and every index is rewritten: every query on ${t}, reads included, waits`,
        safe: `add ${tc.column}_new ${typeText(tc.to)}, keep it in step with a trigger, backfill in batches, switch the application over, then drop ${tc.column}`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...(tc.verdict === 'maybe' ? { severity: 'warning' as const } : {}),
        ...(tc.location !== undefined ? { location: tc.location } : {}),
      });
    }
    return hits;
  },
});
