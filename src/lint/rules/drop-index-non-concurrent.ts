import { as, displayRel, names, relFromNames } from '../ast.js';
import { defineRule } from './define.js';

export const dropIndexNonConcurrent = defineRule({
  id: 'drop-index-non-concurrent',
  defaultSeverity: 'error',
  on: ['DropStmt'],
  docs: {
    summary: 'DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table',
    why: "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: every query on the table, reads included, waits — and, while it waits for a long-running query, everything queues behind it.",
    safe: 'DROP INDEX CONCURRENTLY, outside a transaction block: it waits for running queries without blocking new ones.',
    tandem: '`drop_index` — Tandem drops it CONCURRENTLY, under lock_timeout with retries.',
    bad: 'DROP INDEX users_email_idx;',
    good: 'DROP INDEX CONCURRENTLY users_email_idx;',
  },
  check(ctx) {
    const n = ctx.node;
    if (n.removeType !== 'OBJECT_INDEX' || n.concurrent) return undefined;
    const hits = [];
    for (const o of n.objects ?? []) {
      const idx = relFromNames(names(as(o, 'List')?.items));
      if (!idx) continue;
      const table = ctx.file.indexTable(idx);
      if (table && ctx.file.isNew(table)) continue;
      const on = table ? displayRel(table) : 'its table';
      hits.push({
        message: `DROP INDEX ${displayRel(idx)} without CONCURRENTLY`,
        why: `takes ACCESS EXCLUSIVE on ${on}: every query on it, reads included, waits until the drop commits`,
        safe: `DROP INDEX CONCURRENTLY${n.missing_ok ? ' IF EXISTS' : ''} ${displayRel(idx)}; outside a transaction block`,
        lock: 'ACCESS EXCLUSIVE' as const,
        ...(table ? { rel: table } : {}),
      });
    }
    return hits;
  },
});
