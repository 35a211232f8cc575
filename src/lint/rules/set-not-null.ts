import { as, displayRel, names, relName, type RelName } from '../ast.js';
import { alterCmds } from '../facts.js';
import type { Hit } from '../types.js';
import { defineRule, identRe, locate } from './define.js';

function safeFor(rel: RelName, col: string, pgVersion: number): string {
  const t = displayRel(rel);
  const c = `${rel.name}_${col}_not_null`;
  if (pgVersion < 12) {
    return `before PostgreSQL 12 SET NOT NULL always scans: keep a validated CHECK instead — ALTER TABLE ${t} ADD CONSTRAINT ${c} CHECK (${col} IS NOT NULL) NOT VALID; then ALTER TABLE ${t} VALIDATE CONSTRAINT ${c};`;
  }
  const pg18 = pgVersion >= 18 ? ` (PostgreSQL 18+: ALTER TABLE ${t} ADD CONSTRAINT ${c} NOT NULL ${col} NOT VALID; then VALIDATE CONSTRAINT ${c}; does the same)` : '';
  return (
    `ALTER TABLE ${t} ADD CONSTRAINT ${c} CHECK (${col} IS NOT NULL) NOT VALID; ` +
    `then in its own transaction ALTER TABLE ${t} VALIDATE CONSTRAINT ${c}; ` +
    `then ALTER TABLE ${t} ALTER COLUMN ${col} SET NOT NULL; (no scan: the validated check proves it) and DROP CONSTRAINT ${c};${pg18}`
  );
}

export const setNotNull = defineRule({
  id: 'set-not-null',
  defaultSeverity: 'error',
  on: ['AlterTableStmt'],
  docs: {
    summary: 'SET NOT NULL on an existing column scans the whole table under ACCESS EXCLUSIVE',
    why: 'ALTER COLUMN … SET NOT NULL reads every row to check for NULLs while holding ACCESS EXCLUSIVE: every query, reads included, waits for the scan. From PostgreSQL 12 the scan is skipped when a validated CHECK (col IS NOT NULL) already proves it.',
    safe: 'ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT … in its own transaction (no blocking); then SET NOT NULL (no scan, PostgreSQL 12+) and drop the check.',
    tandem: '`alter_column` with `nullable: false` and `up` — NOT VALID check, batched backfill of NULLs, validation, then SET NOT NULL without a scan.',
    bad: 'ALTER TABLE users ALTER COLUMN email SET NOT NULL;',
    good: 'ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;',
  },
  check(ctx) {
    const rel = relName(ctx.node.relation);
    if (!rel || ctx.file.isNew(rel)) return undefined;
    const t = displayRel(rel);
    const hits: Hit[] = [];
    const pg = ctx.file.pgVersion;
    for (const cmd of alterCmds(ctx.node)) {
      let col: string | undefined;
      if (cmd.subtype === 'AT_SetNotNull') col = cmd.name;
      else if (cmd.subtype === 'AT_AddConstraint') {
        // PostgreSQL 18: ADD CONSTRAINT … NOT NULL col (validated unless NOT VALID).
        const c = as(cmd.def, 'Constraint');
        if (c?.contype === 'CONSTR_NOTNULL' && !c.skip_validation) col = names(c.keys)[0];
      }
      if (col === undefined) continue;
      if (pg >= 12 && ctx.file.notNullProven(rel, col)) continue;
      hits.push({
        message: `SET NOT NULL on ${t}.${col}`,
        why:
          `scans every row of ${t} for NULLs while holding ACCESS EXCLUSIVE: every query on ${t}, reads included, waits for the scan` +
          (pg >= 12 ? ` (no validated CHECK (${col} IS NOT NULL) is known${ctx.file.catalog ? '' : ' — lint with --database-url to see existing ones'})` : ''),
        safe: safeFor(rel, col, pg),
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...locate(ctx, new RegExp(`\\bALTER\\s+(?:COLUMN\\s+)?${identRe(col)}\\s+SET\\s+NOT\\s+NULL|\\bNOT\\s+NULL\\s+${identRe(col)}\\b`, 'i')),
      });
    }
    return hits;
  },
});
