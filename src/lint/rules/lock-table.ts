import { as, displayRel, relName } from '../ast.js';
import { LOCK_NAMES, LockMode, lockBlocks, type Hit } from '../types.js';
import { defineRule } from './define.js';

export const lockTable = defineRule({
  id: 'lock-table',
  defaultSeverity: 'error',
  on: ['LockStmt'],
  docs: {
    summary: 'LOCK TABLE in a mode that blocks application writes (SHARE or stronger; ACCESS EXCLUSIVE by default)',
    why: 'An explicit LOCK holds its mode until the transaction ends — ACCESS EXCLUSIVE (the default) blocks every query, SHARE and stronger block writes — for as long as the rest of the transaction takes.',
    safe: 'Do not lock explicitly: let each statement take the lock it needs, under a short lock_timeout, in a short transaction.',
    tandem: 'every Tandem step takes only the lock it needs, under lock_timeout with retries, in its own short transaction.',
    bad: 'LOCK TABLE users;',
    good: 'LOCK TABLE users IN ROW EXCLUSIVE MODE;',
  },
  check(ctx) {
    const mode = Math.min(8, Math.max(1, ctx.node.mode ?? 8)) as LockMode;
    if (mode < LockMode.Share) return undefined;
    const hits: Hit[] = [];
    for (const r of ctx.node.relations ?? []) {
      const rv = as(r, 'RangeVar');
      const rel = relName(rv);
      if (!rel || ctx.file.isNew(rel)) continue;
      hits.push({
        message: `LOCK TABLE ${displayRel(rel)} IN ${LOCK_NAMES[mode]} MODE`,
        why: `holds ${LOCK_NAMES[mode]} on ${displayRel(rel)} until the transaction ends, blocking ${lockBlocks(mode)} for as long as the rest of the transaction runs`,
        lock: LOCK_NAMES[mode],
        rel,
        ...((ctx.node.relations?.length ?? 0) > 1 && rv?.location !== undefined ? { location: rv.location } : {}),
      });
    }
    return hits;
  },
});
