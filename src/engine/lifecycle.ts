import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ExecutionError, InvalidInputError, RunnerBusyError, StateError } from '../errors.js';
import { runPhase, type RunContext } from '../exec/executor.js';
import { defaultExecOptions, type ExecOptions, type Reporter, silentReporter } from '../exec/options.js';
import { withRunnerLock } from '../exec/runner-lock.js';
import { throttleExecOptions } from '../exec/throttle-options.js';
import type { Migration } from '../migration/schema.js';
import { fileSourceOf } from '../pipeline/source.js';
import { versionSchemaName } from '../plan/names.js';
import { buildPlan } from '../plan/planner.js';
import { markCompleting, markRollingBack, markStarted } from '../state/rollout-store.js';
import type { Plan } from '../plan/types.js';
import {
  findByName,
  forgetUnstartedMigration,
  inProgress,
  initStateSchema,
  insertMigration,
  irreversibleCompleteStepDone,
  lastForgottenStart,
  latestMigration,
  latestVersionSchema,
  type MigrationRow,
  type MigrationSource,
  type MigrationSummary,
  setPhase,
  stateSchemaCurrent,
  stateSchemaReady,
} from '../state/store.js';

export interface EngineOptions extends Partial<ExecOptions> {
  schema?: string;
  /** Queue behind another runner instead of failing fast. */
  wait?: boolean;
  reporter?: Reporter;
  /**
   * `start` only: where the migration came from, for the history (`tandem migrate` gives the file it
   * read; without it, the file named by `migration.file` is hashed when the migration is recorded).
   */
  source?: MigrationSource;
  /** `complete` only: even while a managed rollout routes less than 100% of keys to the new version. */
  force?: boolean;
  /** `complete` only: false skips the verify of every backfilled row (src/exec/verify.ts) run before anything changes. */
  verify?: boolean;
}

interface Resolved {
  schema: string;
  wait: boolean;
  exec: ExecOptions;
  reporter: Reporter;
  /** Warnings of this run's planning (also sent to the reporter), for the command's result. */
  warnings: string[];
}

function resolve(opts: EngineOptions): Resolved {
  return {
    schema: opts.schema ?? 'public',
    wait: opts.wait ?? false,
    exec: {
      lockTimeoutMs: opts.lockTimeoutMs ?? defaultExecOptions.lockTimeoutMs,
      lockRetryForMs: opts.lockRetryForMs ?? defaultExecOptions.lockRetryForMs,
      batchSize: opts.batchSize ?? defaultExecOptions.batchSize,
      batchDelayMs: opts.batchDelayMs ?? defaultExecOptions.batchDelayMs,
      ...throttleExecOptions(opts),
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
      ...(opts.vacuumBehindPercent !== undefined ? { vacuumBehindPercent: opts.vacuumBehindPercent } : {}),
    },
    reporter: opts.reporter ?? silentReporter,
    warnings: [],
  };
}

export function migrationDocument(m: Migration): unknown {
  return {
    name: m.name,
    ...(m.versionSchema !== undefined ? { version_schema: m.versionSchema } : {}),
    operations: m.operations.map((op) => ({ [op.kind]: op.body })),
  };
}

export function checksum(m: Migration): string {
  return createHash('sha256')
    .update(JSON.stringify(migrationDocument(m)))
    .digest('hex');
}

function runContext(client: pg.Client, row: MigrationRow, r: Resolved): RunContext {
  return { client, migrationId: row.id, schema: r.schema, migrationName: row.name, options: r.exec, reporter: r.reporter };
}

function planInput(r: Resolved, migration: Migration, previous: string | null) {
  return {
    schema: r.schema,
    migration,
    previousVersionSchema: previous,
    lockTimeoutMs: r.exec.lockTimeoutMs,
    lockRetryForMs: r.exec.lockRetryForMs,
    onWarning: (w: string) => {
      r.warnings.push(w);
      r.reporter.warn(w);
    },
  };
}

/** Validate and plan without changing anything. */
export async function plan(client: pg.Client, migration: Migration, opts: EngineOptions = {}): Promise<Plan> {
  const r = resolve(opts);
  const previous = (await stateSchemaReady(client)) ? await latestVersionSchema(client, r.schema) : null;
  return buildPlan(client, planInput(r, migration, previous));
}

export interface StartResult {
  migration: string;
  versionSchema: string;
  resumed: boolean;
  alreadyActive: boolean;
  completed: boolean;
  /** Accepted but worth telling (e.g. an `up` on a change that needs none), with where in the file. */
  warnings: string[];
}

/** What `complete` and `rollback` report; `alreadyDone` when the schema's latest migration was already finished that way. */
export interface FinishResult {
  migration: string;
  versionSchema: string;
  alreadyDone: boolean;
}

function notInProgress(schema: string, latest: MigrationSummary | undefined, hint: string): StateError {
  const past = latest ? `; the latest migration, "${latest.name}", is ${latest.phase.replace('_', ' ')}` : '';
  return new StateError(`no migration is in progress on schema "${schema}"${past}`, hint, { code: 'not-in-progress' });
}

/**
 * Expand: everything the new version needs, with the old one still working; then backfill.
 *
 * The runner lock comes first: it is an advisory lock and needs no state schema, so everything
 * after it, creating the state schema included, is done by one runner per target schema. The
 * migration is planned once, before anything is changed: invalid input leaves the database
 * untouched, the state schema included.
 */
export async function start(client: pg.Client, migration: Migration, opts: EngineOptions & { complete?: boolean } = {}): Promise<StartResult> {
  const r = resolve(opts);
  const result = await withRunnerLock(client, r.schema, r.wait, () => startLocked(client, migration, r, opts.source)).catch(async (err: unknown) => {
    // Another runner holds the lock: an invalid file still says why it is invalid (exit 2), as it
    // would have if that runner were not there — unless a migration is in progress, whose objects
    // (shadow columns, version schema) the catalog then holds. Planning only reads (its trials are
    // rolled back) and waits little for locks, so that runner-busy stays a quick answer.
    if (err instanceof RunnerBusyError && !(await migrationInProgress(client, r.schema))) {
      const invalid = await plan(client, migration, { ...opts, lockRetryForMs: Math.min(r.exec.lockRetryForMs, 2_000) }).then(
        () => undefined,
        (e: unknown) => (e instanceof InvalidInputError ? e : undefined),
      );
      throw invalid ?? err;
    }
    throw err;
  });
  let completed = false;
  if (opts.complete) {
    await complete(client, opts);
    completed = true;
  }
  return {
    migration: result.row.name,
    versionSchema: result.row.version_schema,
    resumed: result.resumed,
    alreadyActive: result.alreadyActive,
    completed,
    warnings: r.warnings,
  };
}

async function migrationInProgress(client: pg.Client, schema: string): Promise<boolean> {
  return (await stateSchemaReady(client)) && (await inProgress(client, schema)) !== undefined;
}

/** The work of start, under the runner lock. */
async function startLocked(
  client: pg.Client,
  migration: Migration,
  r: Resolved,
  source: MigrationSource | undefined,
): Promise<{ row: MigrationRow; resumed: boolean; alreadyActive: boolean }> {
  const stateExists = await stateSchemaReady(client);
  const sum = checksum(migration);
  let row = stateExists ? await inProgress(client, r.schema) : undefined;
  let resumed = false;
  if (row) {
    if (row.name !== migration.name) {
      throw new StateError(
        `migration "${row.name}" is in progress on schema "${r.schema}" (phase ${row.phase})`,
        'run `tandem complete` or `tandem rollback` first; one migration at a time per schema',
        { code: 'other-migration-in-progress' },
      );
    }
    if (row.checksum !== sum) {
      throw new StateError(`migration "${row.name}" is in progress with different contents than ${migration.file ?? 'this file'}`, 'roll it back before changing the file', {
        code: 'checksum-mismatch',
      });
    }
    if (row.phase === 'active' || row.phase === 'completing') {
      return { row, resumed: false, alreadyActive: true };
    }
    if (row.phase === 'rolling_back') {
      throw new StateError(`migration "${row.name}" is being rolled back`, 'run `tandem rollback` to finish it', { code: 'rolling-back' });
    }
    resumed = true;
    r.reporter.info(`resuming start of ${row.name}`);
    if (!(await stateSchemaCurrent(client))) await initStateSchema(client); // an install made by an older tandem
  } else {
    const existing = stateExists ? await findByName(client, r.schema, migration.name) : undefined;
    if (existing) {
      throw new StateError(`migration "${migration.name}" was already applied to schema "${r.schema}"`, 'give the new migration another name', { code: 'already-applied' });
    }
    const previous = stateExists ? await latestVersionSchema(client, r.schema) : null;
    const planned = await buildPlan(client, planInput(r, migration, previous));
    if (!(await stateSchemaCurrent(client))) await initStateSchema(client);
    row = await insertMigration(client, {
      schema: r.schema,
      name: migration.name,
      versionSchema: planned.versionSchema,
      previousVersionSchema: previous,
      migration: migrationDocument(migration),
      checksum: sum,
      plan: planned,
      source: source ?? (await fileSourceOf(migration)),
    });
  }
  await runStartPhase(client, row, r);
  await markStarted(client, row); // the rollout row at 0%, with the phase
  return { row, resumed, alreadyActive: false };
}

/**
 * The start phase. If it fails before any start step has committed and the step that failed
 * was one transaction (so its failure left nothing behind), the database is exactly as before:
 * the migration's row is removed too, keeping its audit entries, so no half-made `starting`
 * migration is left for someone to roll back.
 */
async function runStartPhase(client: pg.Client, row: MigrationRow, r: Resolved): Promise<void> {
  try {
    await runPhase(runContext(client, row, r), 'start', row.plan.start);
  } catch (err) {
    const first = row.plan.start[0];
    const firstLeavesNothing = first?.kind === 'sql' && first.transactional;
    if (firstLeavesNothing && (await forgetUnstartedMigration(client, row.id).catch(() => false))) {
      r.reporter.info(`nothing was changed: migration ${row.name} is not recorded as started (its audit log entries are kept)`);
      throw withNothingToRollBack(err);
    }
    throw err;
  }
}

/** The failed step's error, with a hint that fits a start that left nothing behind: no rollback to run. */
function withNothingToRollBack(err: unknown): unknown {
  if (!(err instanceof ExecutionError)) return err;
  const message = err.message.replace(
    /\n {2}hint: .*$/s,
    '\n  hint: nothing was changed and nothing is recorded as started (there is nothing to roll back); fix the cause and run `tandem start` again.',
  );
  return new ExecutionError(message, err.details, { cause: err.cause, code: err.code });
}

/** Contract: drop the old version's schema and columns; the new version's shape becomes the table's. */
export async function complete(client: pg.Client, opts: EngineOptions = {}): Promise<FinishResult> {
  const r = resolve(opts);
  const hint = 'start one with `tandem start <file>`';
  // Without a state schema nothing is in progress; do not create it just to say so.
  if (!(await stateSchemaReady(client))) throw notInProgress(r.schema, undefined, hint);
  return withRunnerLock(client, r.schema, r.wait, async () => {
    const row = await inProgress(client, r.schema);
    if (!row) {
      // Run again after it succeeded (a CI retry after a kill that landed after the last commit): done already.
      const latest = await latestMigration(client, r.schema);
      if (latest?.phase === 'completed') {
        r.reporter.info(`migration ${latest.name} was already completed`);
        return { migration: latest.name, versionSchema: latest.version_schema, alreadyDone: true };
      }
      throw notInProgress(r.schema, latest, hint);
    }
    if (row.phase === 'starting') {
      throw new StateError(`migration "${row.name}" has not finished starting`, 'run `tandem start` with the same file again to resume it, or `tandem rollback`', {
        code: 'not-started',
      });
    }
    if (row.phase === 'rolling_back') throw new StateError(`migration "${row.name}" is being rolled back`, 'run `tandem rollback` to finish it', { code: 'rolling-back' });
    // Verify first, while nothing is changed: rows that differ refuse the complete (exit 1), phase unchanged.
    if (row.phase === 'active' && opts.verify !== false) await (await import('../exec/verify.js')).assertVerified(client, row, { exec: r.exec, reporter: r.reporter });
    // Refused below 100% of a managed rollout; else every key goes to the new version, with the phase.
    if (row.phase === 'active') await markCompleting(client, row, opts.force === true);
    else r.reporter.info(`resuming complete of ${row.name}`);
    await runPhase(runContext(client, row, r), 'complete', row.plan.complete);
    await setPhase(client, row.id, 'completed');
    return { migration: row.name, versionSchema: row.version_schema, alreadyDone: false };
  });
}

/**
 * Undo start: the schema is as it was before, for every step that ran. Also from `completing`,
 * as long as complete has not passed its point of no return (no irreversible step done).
 */
export async function rollback(client: pg.Client, opts: EngineOptions = {}): Promise<FinishResult> {
  const r = resolve(opts);
  const hint = 'nothing to roll back';
  if (!(await stateSchemaReady(client))) throw notInProgress(r.schema, undefined, hint);
  return withRunnerLock(client, r.schema, r.wait, async () => {
    const row = await inProgress(client, r.schema);
    if (!row) {
      const latest = await latestMigration(client, r.schema);
      if (latest?.phase === 'rolled_back') {
        r.reporter.info(`migration ${latest.name} was already rolled back`);
        return { migration: latest.name, versionSchema: latest.version_schema, alreadyDone: true };
      }
      // `tandem start … || tandem rollback` in CI: the start failed before changing anything.
      const forgotten = await lastForgottenStart(client, r.schema);
      if (forgotten !== undefined) {
        r.reporter.info(`the start of ${forgotten} failed before changing anything: nothing to roll back`);
        return { migration: forgotten, versionSchema: versionSchemaName(r.schema, forgotten), alreadyDone: true };
      }
      throw notInProgress(r.schema, latest, latest?.phase === 'completed' ? 'a completed migration cannot be rolled back: write a new migration that undoes it' : hint);
    }
    if (row.phase === 'completing' && (await irreversibleCompleteStepDone(client, row))) {
      throw new StateError(`migration "${row.name}" is completing and past its point of no return: the old version's columns are gone`, 'run `tandem complete` to finish it', {
        code: 'completing',
      });
    }
    if (row.phase === 'rolling_back') r.reporter.info(`resuming rollback of ${row.name}`);
    await markRollingBack(client, row); // every key back to the old version, with the phase
    await runPhase(runContext(client, row, r), 'rollback', row.plan.rollback);
    await setPhase(client, row.id, 'rolled_back');
    return { migration: row.name, versionSchema: row.version_schema, alreadyDone: false };
  });
}
