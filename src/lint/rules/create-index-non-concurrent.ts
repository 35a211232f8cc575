import { relName } from '../ast.js';
import { defineRule, t } from './define.js';

export const createIndexNonConcurrent = defineRule({
  id: 'create-index-non-concurrent',
  defaultSeverity: 'error',
  on: ['IndexStmt'],
  docs: {
    summary: 'CREATE INDEX without CONCURRENTLY on an existing table blocks writes for the whole build',
    why: 'CREATE INDEX takes a SHARE lock on the table for the whole build, which reads every row: INSERT, UPDATE and DELETE wait until it finishes (reads continue).',
    safe: 'CREATE INDEX CONCURRENTLY, outside a transaction block (it takes SHARE UPDATE EXCLUSIVE, which lets reads and writes go on). If it fails it leaves an INVALID index: DROP INDEX CONCURRENTLY it and retry.',
    tandem: '`create_index` — Tandem builds the index CONCURRENTLY, outside a transaction, under lock_timeout with retries.',
    bad: 'CREATE INDEX users_email_idx ON users (email);',
    good: 'CREATE INDEX CONCURRENTLY users_email_idx ON users (email);',
  },
  check(ctx) {
    const n = ctx.node;
    const rel = relName(n.relation);
    if (n.concurrent || !rel || ctx.file.isNew(rel)) return undefined;
    const kind = n.unique ? 'UNIQUE INDEX' : 'INDEX';
    return [
      {
        message: `CREATE ${kind}${n.idxname ? ` ${n.idxname}` : ''} on ${t(rel)} without CONCURRENTLY`,
        why: `takes a SHARE lock on ${t(rel)} for the whole index build, which reads every row: INSERT, UPDATE and DELETE on ${t(rel)} wait until it finishes (reads continue)`,
        safe: `CREATE ${kind} CONCURRENTLY${n.idxname ? ` ${n.idxname}` : ''} ON ${t(rel)} (…); outside a transaction block (if it fails, DROP INDEX CONCURRENTLY the INVALID index and retry)`,
        lock: 'SHARE',
        rel,
      },
    ];
  },
});
