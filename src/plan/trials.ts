import type pg from 'pg';
import { InvalidInputError, LockTimeoutError } from '../errors.js';
import { backoffMs, isRetryable, sleep } from '../exec/lock-retry.js';
import type { DeferredCheck } from '../operations/context.js';
import { ident } from '../sql/ident.js';

function scopeRelation(columns: { name: string; type: string }[] | undefined): string {
  if (!columns || columns.length === 0) return '';
  return ` FROM (SELECT ${columns.map((c) => `NULL::${c.type} AS ${ident(c.name)}`).join(', ')}) AS t`;
}

/**
 * Types, `up`/`down` and defaults are tried with EXPLAIN (parsed and planned, never executed), and
 * new tables are created, all inside a transaction that is rolled back. A mistake surfaces here,
 * as invalid input pointing at the field, instead of inside a trigger on the live table.
 */
export async function runChecksRetrying(client: pg.Client, checks: DeferredCheck[], fileLoc: { file?: string }, lockTimeoutMs: number, retryForMs: number): Promise<void> {
  const began = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await runChecks(client, checks, fileLoc, lockTimeoutMs);
    } catch (err) {
      const lockErr = err instanceof LockNotAvailable;
      if (!lockErr) throw err;
      if (Date.now() - began >= retryForMs) throw new LockTimeoutError('validate', attempt, Date.now() - began, [], { cause: err.cause });
      await sleep(backoffMs(attempt));
    }
  }
}

class LockNotAvailable extends Error {}

async function runChecks(client: pg.Client, checks: DeferredCheck[], fileLoc: { file?: string }, lockTimeoutMs: number): Promise<void> {
  if (checks.length === 0) return;
  await client.query('BEGIN');
  try {
    // Trials lock what they touch, like the real statements: the same short lock_timeout, retried.
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    for (const check of checks) {
      let sql: string;
      if (check.kind === 'type') sql = `EXPLAIN SELECT NULL::${check.sql}`;
      else if (check.kind === 'statement') sql = check.sql;
      else {
        // The columns the expression sees: the table just before (up) or after (down) its operation.
        sql = `EXPLAIN SELECT CAST((${check.sql}) AS ${check.resultType})${scopeRelation(check.columns)}`;
      }
      await client.query('SAVEPOINT tandem_check');
      try {
        // Extended protocol: one statement only, so a stray ';' cannot smuggle a second one in.
        await client.query({ text: sql, queryMode: 'extended' } as pg.QueryConfig);
        await client.query('RELEASE SAVEPOINT tandem_check');
      } catch (err) {
        const e = err as Error & { code?: string };
        if (isRetryable(err)) throw new LockNotAvailable(e.message, { cause: err });
        throw new InvalidInputError(
          `${check.kind === 'type' ? 'invalid type' : check.kind === 'statement' ? 'PostgreSQL rejects the statement' : 'invalid SQL expression'}: ${e.message}`,
          { ...fileLoc, operationIndex: check.operationIndex, operation: check.operation, field: check.field },
          check.scope === 'old'
            ? 'up is evaluated over the old version\'s columns'
            : check.scope === 'new'
              ? 'down is evaluated over the new version\'s columns'
              : undefined,
          { cause: err },
        );
      }
    }
  } finally {
    await client.query('ROLLBACK');
  }
}
