import { as, displayRel, relName } from '../ast.js';
import { defineRule } from './define.js';

export const reindexNonConcurrent = defineRule({
  id: 'reindex-non-concurrent',
  defaultSeverity: 'error',
  on: ['ReindexStmt'],
  docs: {
    summary: 'REINDEX without CONCURRENTLY blocks writes (and reads through the index) for the whole rebuild',
    why: 'REINDEX takes a SHARE lock on the table (writes wait) and ACCESS EXCLUSIVE on each index it rebuilds (queries that would use it wait) for the whole rebuild.',
    safe: 'REINDEX … CONCURRENTLY (PostgreSQL 12+), outside a transaction block. Before 12: CREATE INDEX CONCURRENTLY a copy, DROP INDEX CONCURRENTLY the old one, rename.',
    tandem: 'none — index maintenance is not a schema change; run REINDEX CONCURRENTLY outside the migration.',
    bad: 'REINDEX INDEX users_email_idx;',
    good: 'REINDEX INDEX CONCURRENTLY users_email_idx;',
  },
  check(ctx) {
    const n = ctx.node;
    if ((n.params ?? []).some((p) => as(p, 'DefElem')?.defname === 'concurrently')) return undefined;
    const rel = relName(n.relation);
    const what =
      n.kind === 'REINDEX_OBJECT_INDEX'
        ? `INDEX ${rel ? displayRel(rel) : ''}`
        : n.kind === 'REINDEX_OBJECT_TABLE'
          ? `TABLE ${rel ? displayRel(rel) : ''}`
          : n.kind === 'REINDEX_OBJECT_SCHEMA'
            ? `SCHEMA ${n.name ?? ''}`
            : n.kind === 'REINDEX_OBJECT_DATABASE'
              ? 'DATABASE'
              : 'SYSTEM';
    const table = n.kind === 'REINDEX_OBJECT_INDEX' && rel ? ctx.file.indexTable(rel) : n.kind === 'REINDEX_OBJECT_TABLE' ? rel : undefined;
    if (table && ctx.file.isNew(table)) return undefined;
    const pg12 = ctx.file.pgVersion >= 12;
    return [
      {
        message: `REINDEX ${what.trim()} without CONCURRENTLY`,
        why: 'holds a SHARE lock on the table (INSERT, UPDATE and DELETE wait) and ACCESS EXCLUSIVE on each index being rebuilt (queries planned to use it wait) until the rebuild ends',
        safe: pg12
          ? `REINDEX ${what.trim().replace(/^(\w+)/, '$1 CONCURRENTLY')}; outside a transaction block`
          : 'before PostgreSQL 12: CREATE INDEX CONCURRENTLY a copy of the index, DROP INDEX CONCURRENTLY the old one, then rename the copy',
        lock: 'SHARE',
        ...(table ? { rel: table } : {}),
      },
    ];
  },
});
