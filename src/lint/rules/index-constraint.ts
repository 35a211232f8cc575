import type { Constraint } from 'libpg-query';
import { as, displayRel, names, relName } from '../ast.js';
import { alterCmds, analyzeAddColumn } from '../facts.js';
import type { Hit, StatementContext } from '../types.js';

type Kind = 'CONSTR_UNIQUE' | 'CONSTR_PRIMARY' | 'CONSTR_EXCLUSION';
const label: Record<Kind, string> = { CONSTR_UNIQUE: 'UNIQUE', CONSTR_PRIMARY: 'PRIMARY KEY', CONSTR_EXCLUSION: 'EXCLUDE' };

/**
 * UNIQUE, PRIMARY KEY and EXCLUDE constraints added to an existing table build their index while
 * holding ACCESS EXCLUSIVE — unless UNIQUE/PRIMARY KEY adopt an index built CONCURRENTLY
 * (`USING INDEX`).
 */
export function indexConstraintHits(ctx: StatementContext<'AlterTableStmt'>, kind: Kind, safe: (c: Constraint | undefined, cols: string) => string): Hit[] {
  const rel = relName(ctx.node.relation);
  if (!rel || ctx.file.isNew(rel)) return [];
  const t = displayRel(rel);
  const hits: Hit[] = [];
  const why = `builds the ${kind === 'CONSTR_PRIMARY' ? 'primary key' : kind === 'CONSTR_UNIQUE' ? 'unique' : 'exclusion'} index by reading all of ${t} while holding ACCESS EXCLUSIVE: every query on ${t}, reads included, waits for the whole build`;
  for (const cmd of alterCmds(ctx.node)) {
    if (cmd.subtype === 'AT_AddConstraint') {
      const c = as(cmd.def, 'Constraint');
      if (c?.contype !== kind || c.indexname) continue;
      const cols = names(c.keys).join(', ');
      hits.push({
        message: `${label[kind]}${c.conname ? ` ${c.conname}` : ''} added to ${t}${cols ? ` (${cols})` : ''}`,
        why,
        safe: safe(c, cols),
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...(c.location !== undefined ? { location: c.location } : {}),
      });
    } else if (cmd.subtype === 'AT_AddColumn' && kind !== 'CONSTR_EXCLUSION') {
      const col = as(cmd.def, 'ColumnDef');
      if (!col) continue;
      const info = analyzeAddColumn(col, ctx.file);
      const c = kind === 'CONSTR_PRIMARY' ? info.primaryKey : info.unique;
      if (!c) continue;
      hits.push({
        message: `column ${col.colname ?? ''} added to ${t} as ${label[kind]}`,
        why,
        safe: `add the column first, then ${safe(undefined, col.colname ?? '…')}`,
        lock: 'ACCESS EXCLUSIVE',
        rel,
        ...(c.location !== undefined ? { location: c.location } : {}),
      });
    }
  }
  return hits;
}
