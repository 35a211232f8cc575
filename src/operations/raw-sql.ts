import type { OperationBody } from '../migration/schema.js';
import type { Action } from '../plan/types.js';
import { checkStatementsFragment } from '../sql/fragments.js';
import type { OpContext } from './context.js';
import type { OperationHandler } from './handler.js';

interface Resolved {
  body: OperationBody<'sql'>;
}

const needsNoTransaction = /\bconcurrently\b|\bvacuum\b/i;

function run(sql: string, description: string): Action {
  // The SQL is the user's: its locks are unknown, so it is planned as the strongest.
  return { sql, lock: 'ACCESS EXCLUSIVE', transactional: !needsNoTransaction.test(sql), description };
}

/**
 * Raw SQL: `up` at start (or at complete with `onComplete`), `down` on rollback. Tandem cannot see
 * what it changes, so it must be the only kind of operation in its migration; the version schema
 * is then built from the catalog as the SQL left it.
 */
export const rawSql: OperationHandler<'sql', Resolved> = {
  validate(body, ctx: OpContext) {
    ctx.rawSql = true;
    // Tandem cannot try raw SQL without running it, but PostgreSQL's parser can read it.
    checkStatementsFragment(body.up, ctx.at('up'));
    if (body.down !== undefined) checkStatementsFragment(body.down, ctx.at('down'));
    if (body.onComplete && body.down !== undefined) ctx.fail('`down` has no effect with onComplete: rollback happens before complete', 'down');
    return { body };
  },

  start({ body }) {
    return body.onComplete ? [] : [run(body.up, 'raw sql (up)')];
  },

  complete({ body }) {
    return body.onComplete ? [run(body.up, 'raw sql (on complete)')] : [];
  },

  rollback({ body }) {
    return !body.onComplete && body.down ? [run(body.down, 'raw sql (down)')] : [];
  },
};
