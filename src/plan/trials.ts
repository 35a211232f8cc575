import type pg from 'pg';
import { type InputErrorCode, InvalidInputError, LockTimeoutError } from '../errors.js';
import { isRetryable, retryOnLockConflict } from '../exec/lock-retry.js';
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
  // A lock conflict aborts the trial transaction (rolled back by runChecks) and is retried whole.
  await retryOnLockConflict(() => runChecks(client, checks, fileLoc, lockTimeoutMs), {
    retryForMs,
    giveUp: ({ attempt, waitedMs, err }) => new LockTimeoutError('validate', attempt, waitedMs, [], { cause: err }),
  });
}

/** The trial statement of a check: EXPLAIN plans it (never runs it). */
function trialSql(check: DeferredCheck): string {
  switch (check.kind) {
    case 'type':
      return `EXPLAIN SELECT NULL::${check.sql}`;
    case 'statement':
    case 'lookup':
      return check.sql;
    case 'condition':
      // WHERE refuses what CHECK refuses: a non-boolean, aggregates, window and set-returning functions.
      return `EXPLAIN SELECT 1${scopeRelation(check.columns)} WHERE (${check.sql})`;
    case 'expression':
      // The columns the expression sees: the table just before (up) or after (down) its operation.
      // In WHERE, PostgreSQL refuses aggregates, window and set-returning functions (user-defined
      // ones too), which a trigger or an UPDATE evaluating the expression per row cannot take.
      return `EXPLAIN SELECT 1${scopeRelation(check.columns)} WHERE CAST((${check.sql}) AS ${check.resultType}) IS NULL`;
  }
}

/**
 * Where in the fragment a trial's error is: PostgreSQL reports a 1-based character position in
 * the trial statement, which contains the fragment once, as given.
 */
function positionInFragment(check: DeferredCheck, trial: string, position: string | undefined): string {
  if (position === undefined || check.kind === 'statement' || check.kind === 'lookup') return '';
  const offset = trial.lastIndexOf(check.sql);
  if (offset < 0) return '';
  const fragment = [...check.sql];
  const at = Number(position) - 1 - [...trial.slice(0, offset)].length;
  if (!(at >= 0 && at < fragment.length)) return '';
  const before = fragment.slice(0, at);
  const line = before.filter((c) => c === '\n').length + 1;
  const column = at - (before.lastIndexOf('\n') + 1) + 1;
  return ` (line ${line}, column ${column} of the ${check.kind === 'type' ? 'type' : 'expression'})`;
}

/** The error code of a failed trial, from its SQLSTATE. */
function trialCode(check: DeferredCheck, sqlstate: string | undefined, message: string): { code: InputErrorCode; field?: string; problem?: string } {
  const own = check.classify?.(sqlstate, message);
  if (own) return own;
  if (check.kind === 'type') return { code: 'invalid-type' };
  // The trial puts the expression in a WHERE clause; say what that means where the user put it.
  const perRow = 'it is evaluated for one row at a time';
  if (sqlstate === '42803') return { code: 'aggregate-not-allowed', problem: `an aggregate function is not allowed here: ${perRow}` };
  if (sqlstate === '42P20') return { code: 'window-not-allowed', problem: `a window function is not allowed here: ${perRow}` };
  if (sqlstate === '0A000' && /set-returning/i.test(message))
    return { code: 'set-returning-not-allowed', problem: `a set-returning function is not allowed here: ${perRow}, to one value` };
  if (check.kind === 'condition' && sqlstate === '42804') return { code: 'not-boolean' };
  return { code: check.kind === 'statement' ? 'invalid-input' : 'invalid-sql' };
}

function trialProblem(check: DeferredCheck): string {
  switch (check.kind) {
    case 'type':
      return 'invalid type';
    case 'statement':
      return 'PostgreSQL rejects the statement';
    case 'condition':
      return 'invalid CHECK expression';
    default:
      return 'invalid SQL expression';
  }
}

function trialHint(check: DeferredCheck): string | undefined {
  if (check.scope === 'old') return "up is evaluated over the old version's columns";
  if (check.scope === 'new' && check.kind === 'expression') return "down is evaluated over the new version's columns";
  if (check.kind === 'condition') return 'a check is a boolean expression over the columns of its table';
  return undefined;
}

async function runChecks(client: pg.Client, checks: DeferredCheck[], fileLoc: { file?: string }, lockTimeoutMs: number): Promise<void> {
  if (checks.length === 0) return;
  await client.query('BEGIN');
  try {
    // Trials lock what they touch, like the real statements: the same short lock_timeout, retried.
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    const skippedGroups = new Set<string>();
    for (const check of checks) {
      if (check.group !== undefined && skippedGroups.has(check.group)) continue;
      const at = { ...fileLoc, operationIndex: check.operationIndex, operation: check.operation, field: check.field };
      await client.query('SAVEPOINT tandem_check');
      let found = true;
      const trial = trialSql(check);
      try {
        // Extended protocol: one statement only, so a stray ';' cannot smuggle a second one in.
        const result = await client.query({ text: trial, values: check.params ?? [], queryMode: 'extended' } as pg.QueryConfig);
        if (check.kind === 'lookup') found = (result.rows[0] as { found?: boolean } | undefined)?.found === true;
        await client.query('RELEASE SAVEPOINT tandem_check');
      } catch (err) {
        const e = err as Error & { code?: string; position?: string };
        if (isRetryable(err)) throw err;
        if (check.group !== undefined && e.code !== undefined && check.skipGroupOn?.includes(e.code)) {
          // A trial this role may not run (e.g. no TEMP privilege): the real statement will tell.
          await client.query('ROLLBACK TO SAVEPOINT tandem_check');
          skippedGroups.add(check.group);
          continue;
        }
        const { code, field, problem } = trialCode(check, e.code, e.message);
        throw new InvalidInputError(
          problem ?? `${trialProblem(check)}: ${e.message}${positionInFragment(check, trial, e.position)}`,
          { ...at, ...(field !== undefined ? { field } : {}) },
          trialHint(check),
          { cause: err, code },
        );
      }
      if (!found && check.missing) throw new InvalidInputError(check.missing.problem, at, check.missing.hint, { code: check.missing.code });
    }
  } finally {
    await client.query('ROLLBACK');
  }
}
