import os from 'node:os';
import type pg from 'pg';
import { codeOf, ExecutionError, LockTimeoutError } from '../errors.js';
import { ident, qualified } from '../sql/ident.js';
import { readTables } from '../catalog/read.js';
import { VirtualSchema } from '../model/virtual-schema.js';
import { grantsFor, viewSql } from '../plan/version-schema.js';
import type { Action, Phase, SqlStep, Step, VersionSchemaStep } from '../plan/types.js';
import { audit, doneSteps, recordError, recordStep, recordStepSql } from '../state/store.js';
import { runBackfill } from './backfill.js';
import { type Blocker, BlockerWatch, formatBlocker, isRetryable, retryOnLockConflict } from './lock-retry.js';
import { blocksTraffic } from '../sql/lock-modes.js';
import type { ExecOptions, Reporter } from './options.js';
import { emitEvent } from '../observe/events.js';

export interface RunContext {
  client: pg.Client;
  migrationId: string;
  schema: string;
  migrationName: string;
  options: ExecOptions;
  reporter: Reporter;
}

const clientName = `${os.userInfo().username}@${os.hostname()} pid ${process.pid}`;

/** Run the steps of a phase that are not yet recorded as done, in order. */
export async function runPhase(ctx: RunContext, phase: Phase, steps: Step[]): Promise<void> {
  const done = await doneSteps(ctx.client, ctx.migrationId, phase);
  for (const [index, step] of steps.entries()) {
    if (done.has(index)) continue;
    ctx.reporter.step(phase, step.description);
    try {
      if (step.kind === 'backfill') {
        await runBackfill(ctx, step);
        await recordStep(ctx.client, ctx.migrationId, phase, index, step.id, 1);
      } else if (step.kind === 'sql' && step.onlyIfStarted && !(await anyStartStepDone(ctx, step.onlyIfStarted))) {
        // Its `up` never ran (start failed before or in it): nothing to undo.
        await recordStep(ctx.client, ctx.migrationId, phase, index, step.id, 0);
      } else if (step.kind === 'version-schema') {
        await runSqlStep(ctx, phase, index, await versionSchemaFromCatalog(ctx.client, step));
      } else {
        await runSqlStep(ctx, phase, index, step);
      }
    } catch (err) {
      const sqlstate = sqlstateOf(err);
      await recordError(ctx.client, ctx.migrationId, {
        phase,
        step: step.id,
        code: codeOf(err),
        message: (err as Error).message,
        ...(sqlstate ? { sqlstate } : {}),
      }).catch(() => undefined);
      throw err;
    }
  }
}

/** The SQLSTATE behind an error: its own (a PostgreSQL error), its details', or its cause's. */
function sqlstateOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const details = (e as { details?: { sqlstate?: unknown } }).details?.sqlstate;
    if (typeof details === 'string') return details;
    const own = (e as { code?: unknown }).code;
    if (typeof own === 'string' && /^[0-9A-Z]{5}$/.test(own)) return own;
  }
  return undefined;
}

async function anyStartStepDone(ctx: RunContext, stepIds: string[]): Promise<boolean> {
  const r = await ctx.client.query(`SELECT 1 FROM tandem.steps WHERE migration_id = $1 AND phase = 'start' AND step_id = ANY ($2::text[])`, [ctx.migrationId, stepIds]);
  return (r.rowCount ?? 0) > 0;
}

/**
 * The short lock_timeout exists because application queries queue behind a waiting ALTER. A step
 * whose locks block no reads or writes (VALIDATE CONSTRAINT, CREATE VIEW) can wait longer, e.g.
 * for autovacuum, which a 50 ms wait would never outlast.
 */
export function stepLockTimeout(step: SqlStep, options: ExecOptions): number {
  // Modes that make application reads or writes queue behind a waiting statement (the shared lock table).
  const blocking = new Set(step.actions.filter((a) => blocksTraffic(a.lock)).map((a) => a.table ?? a.sql));
  if (blocking.size === 0) return Math.max(1, Math.round(Math.max(options.lockTimeoutMs, options.lockRetryForMs)));
  // A transaction that locks several relations (the contract step) holds the first locks while it
  // waits for the next: queries on the first table can wait for every later wait in turn. Each wait
  // gets its share of --lock-timeout, so the longest stall of any query stays about --lock-timeout.
  return Math.max(1, Math.round(options.lockTimeoutMs / blocking.size));
}

async function runSqlStep(ctx: RunContext, phase: Phase, index: number, step: SqlStep): Promise<void> {
  const { client, options } = ctx;
  const lockTimeout = stepLockTimeout(step, options);
  const statements = step.actions.map((a) => a.sql).join(';\n');
  // Opened after the first lock timeout only: the happy path pays nothing for naming blockers.
  let watch: BlockerWatch | undefined;
  try {
    await retryOnLockConflict(
      async (attempt) => {
        const startedAt = new Date();
        const t0 = performance.now();
        watch?.beginAttempt();
        let current = statements;
        try {
          if (step.transactional) {
            // One round trip for the whole transaction: once the first ALTER holds its lock, the
            // application waits only for the server's work, never for this process to send the next
            // statement. An error stops the rest; the transaction is then rolled back below.
            const parts = transactionParts(ctx, phase, index, step, attempt, lockTimeout);
            try {
              await client.query(parts.join(';\n'));
            } catch (err) {
              await client.query('ROLLBACK').catch(() => undefined);
              if (!isRetryable(err)) current = (await findFailingStatement(client, parts, err, lockTimeout)) ?? statements;
              throw err;
            }
          } else {
            // Statements PostgreSQL refuses inside a transaction block; each is idempotent.
            await client.query(`SET lock_timeout = ${lockTimeout}`);
            for (const action of step.actions) {
              if (action.concurrentIndex && (await prepareConcurrentIndex(client, action.concurrentIndex)) === 'valid') continue;
              current = action.sql;
              await client.query(action.sql);
            }
            await client.query('RESET lock_timeout');
            await recordStep(client, ctx.migrationId, phase, index, step.id, attempt);
          }
          await watch?.endAttempt();
          await audit(client, auditEntry(ctx, phase, step.id, statements, attempt, 'ok', startedAt, performance.now() - t0));
        } catch (err) {
          const e = err as Error & { code?: string; table?: string; column?: string };
          const elapsed = performance.now() - t0;
          await client.query('ROLLBACK').catch(() => undefined);
          if (!step.transactional) await client.query('RESET lock_timeout').catch(() => undefined);
          const blockedBy = (await watch?.endAttempt()) ?? [];
          if (isRetryable(err)) {
            const note = blockedBy.length ? ` (blocked by ${blockedBy.map((b) => `pid ${b.pid}`).join(', ')})` : '';
            await audit(client, auditEntry(ctx, phase, step.id, current, attempt, 'lock_timeout', startedAt, elapsed, e, note)).catch(() => undefined);
            throw err;
          }
          await audit(client, auditEntry(ctx, phase, step.id, current, attempt, 'failed', startedAt, elapsed, e)).catch(() => undefined);
          throw new ExecutionError(
            `step "${step.id}" (${step.description}) failed: ${e.message}\n  statement: ${shortStatement(current)}\n` +
              `  hint: nothing of this step was applied; fix the cause and run the same command again, or run \`tandem rollback\`.`,
            { step: step.id, sql: current, ...(e.code ? { sqlstate: e.code } : {}), ...(e.table ? { table: e.table } : {}), ...(e.column ? { column: e.column } : {}) },
            { cause: err },
          );
        }
      },
      {
        retryForMs: options.lockRetryForMs,
        onRetry: async ({ attempt }) => {
          watch ??= await BlockerWatch.watchFrom(client);
          if (attempt === 3) {
            const blockers = watch?.blockers() ?? [];
            if (blockers.length) {
              ctx.reporter.warn(`${step.id}: waiting for a lock, blocked by ${blockers.map(formatBlocker).join('; ')}`);
              emitEvent({ type: 'lock-wait', step: step.id, attempt, blockers: blockers.map((b) => ({ pid: b.pid, mode: b.modes ?? undefined, query: b.query ?? undefined })) });
            }
          }
        },
        giveUp: async ({ attempt, waitedMs, err }) => {
          let blockers = watch?.blockers() ?? [];
          if (blockers.length === 0) {
            // Gave up before any attempt was watched (a budget shorter than two attempts): one more
            // observed wait for the same locks, rolled back, to name who blocks them.
            watch ??= await BlockerWatch.watchFrom(client);
            if (watch) blockers = await observeBlockers(client, watch, step, lockTimeout);
          }
          return new LockTimeoutError(step.id, attempt, waitedMs, blockers, { cause: err });
        },
      },
    );
  } finally {
    await watch?.close();
  }
}

/**
 * Waits once more for the locks the step's statements take (LOCK TABLE in the same modes, under
 * the same lock_timeout, in a transaction that is rolled back) while `watch` reads who blocks the
 * wait. Queues application queries no longer than any attempt does.
 */
async function observeBlockers(client: pg.Client, watch: BlockerWatch, step: SqlStep, lockTimeout: number): Promise<Blocker[]> {
  const locks = [...new Map(step.actions.filter((a) => a.table !== undefined && a.lock !== 'none').map((a) => [`${a.table} ${a.lock}`, a])).values()];
  if (locks.length === 0) return [];
  watch.beginAttempt();
  try {
    await client.query(['BEGIN', `SET LOCAL lock_timeout = ${lockTimeout}`, ...locks.map((a) => `LOCK TABLE ${a.table} IN ${a.lock} MODE`)].join(';\n'));
  } catch {
    // The lock timeout we expect; any other error only means nothing more can be learnt.
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
  await watch.endAttempt();
  return watch.blockers(1);
}

/** The statements of a transactional step, sent as one query string. */
function transactionParts(ctx: RunContext, phase: Phase, index: number, step: SqlStep, attempt: number, lockTimeout: number): string[] {
  return ['BEGIN', `SET LOCAL lock_timeout = ${lockTimeout}`, ...step.actions.map((a) => a.sql), recordStepSql(ctx.migrationId, phase, index, step.id, attempt), 'COMMIT'];
}

/**
 * Which statement of a failed one-round-trip transaction failed. A syntax error carries its
 * position; other errors do not, so (on failure only) the statements are replayed one per round
 * trip in a transaction that is always rolled back, under the same lock_timeout, and the first
 * that fails is the one. Undefined when that cannot tell (the replay fails otherwise, or passes).
 */
async function findFailingStatement(client: pg.Client, parts: string[], err: unknown, lockTimeout: number): Promise<string | undefined> {
  const byPosition = failingPart(parts, err);
  if (byPosition !== undefined) return byPosition;
  const body = parts.slice(2, -1); // without BEGIN, SET LOCAL lock_timeout and COMMIT
  const sqlstate = (err as { code?: string }).code;
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = ${lockTimeout}`);
    for (const statement of body) {
      try {
        await client.query(statement);
      } catch (replayErr) {
        // Only trust the replay if it failed the same way.
        return (replayErr as { code?: string }).code === sqlstate ? statement : undefined;
      }
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

/** A statement on one line, shortened for a message (the full text is in the error's details and the audit log). */
function shortStatement(sql: string, max = 300): string {
  const line = sql.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The version schema of a raw-SQL migration: one plain view per table, as the catalog is now. */
async function versionSchemaFromCatalog(client: pg.Client, step: VersionSchemaStep): Promise<SqlStep> {
  const tables = [...VirtualSchema.fromCatalog(await readTables(client, step.schema)).tables.values()];
  const plain = (sql: string, description: string): Action => ({ sql, lock: 'ACCESS SHARE', transactional: true, description });
  return {
    kind: 'sql',
    id: step.id,
    description: step.description,
    transactional: true,
    actions: [
      plain(`CREATE SCHEMA ${ident(step.versionSchema)}`, 'create schema'),
      ...tables.map((t) => ({ ...plain(viewSql(step.schema, step.versionSchema, t), `view ${t.name}`), table: qualified(step.schema, t.physical) })),
      ...(await grantsFor(client, step.schema, step.versionSchema, tables)),
    ],
  };
}

/** The statement an error's position (1-based, in the whole query string) points into, if any. */
function failingPart(parts: string[], err: unknown): string | undefined {
  const position = Number((err as { position?: string }).position);
  if (!Number.isFinite(position) || position <= 0) return undefined;
  let offset = 0;
  for (const part of parts) {
    offset += part.length + 2;
    if (position <= offset) return part;
  }
  return undefined;
}

/** Whether the index is already built; an invalid leftover of a failed build is dropped. */
async function prepareConcurrentIndex(client: pg.Client, index: { schema: string; name: string }): Promise<'valid' | 'absent'> {
  const r = await client.query<{ valid: boolean }>(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [index.schema, index.name],
  );
  if (r.rows.length === 0) return 'absent';
  if (r.rows[0]!.valid) return 'valid';
  await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${qualified(index.schema, index.name)}`);
  return 'absent';
}

function auditEntry(
  ctx: RunContext,
  phase: Phase,
  stepId: string,
  statements: string,
  attempt: number,
  outcome: 'ok' | 'failed' | 'lock_timeout',
  startedAt: Date,
  durationMs: number,
  err?: Error & { code?: string },
  note = '',
) {
  return {
    migrationId: ctx.migrationId,
    schema: ctx.schema,
    migrationName: ctx.migrationName,
    phase,
    stepId,
    statements,
    attempt,
    outcome,
    sqlstate: err?.code,
    error: err ? `${err.message}${note}` : undefined,
    startedAt,
    durationMs,
    client: clientName,
  };
}
