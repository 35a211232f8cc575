import { as } from '../ast.js';
import { alterCmds } from '../facts.js';
import { defineRule } from './define.js';

export const concurrentlyInTransaction = defineRule({
  id: 'concurrently-in-transaction',
  defaultSeverity: 'error',
  on: ['IndexStmt', 'DropStmt', 'ReindexStmt', 'AlterTableStmt'],
  docs: {
    summary: 'CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY or DETACH PARTITION CONCURRENTLY inside a transaction block',
    why: 'PostgreSQL refuses these inside a transaction block ("cannot run inside a transaction block"): the migration fails at this statement.',
    safe: 'Run the statement outside BEGIN … COMMIT — in its own migration file if your tool wraps each file in a transaction (and mark that file non-transactional).',
    tandem: 'Tandem runs concurrent index builds and drops outside any transaction on its own.',
    bad: 'BEGIN; CREATE INDEX CONCURRENTLY users_email_idx ON users (email); COMMIT;',
    good: 'CREATE INDEX CONCURRENTLY users_email_idx ON users (email);',
  },
  check(ctx) {
    if (!ctx.file.inTransaction) return undefined;
    let what: string | undefined;
    switch (ctx.kind) {
      case 'IndexStmt':
        if (ctx.node.concurrent) what = 'CREATE INDEX CONCURRENTLY';
        break;
      case 'DropStmt':
        if (ctx.node.concurrent) what = 'DROP INDEX CONCURRENTLY';
        break;
      case 'ReindexStmt':
        if ((ctx.node.params ?? []).some((p) => as(p, 'DefElem')?.defname === 'concurrently')) what = 'REINDEX CONCURRENTLY';
        break;
      case 'AlterTableStmt':
        if (alterCmds(ctx.node).some((c) => c.subtype === 'AT_DetachPartition' && as(c.def, 'PartitionCmd')?.concurrent)) what = 'DETACH PARTITION CONCURRENTLY';
        break;
      default:
        break;
    }
    if (!what) return undefined;
    return [
      {
        message: `${what} inside a transaction block`,
        why: `PostgreSQL refuses ${what} inside a transaction block ("cannot run inside a transaction block"): the migration fails here`,
      },
    ];
  },
});
