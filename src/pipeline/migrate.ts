import type pg from 'pg';
import { LockTimeoutError, ExecutionError, TandemError } from '../errors.js';
import type { EngineOptions } from '../engine/lifecycle.js';
import { withRunnerLock } from '../exec/runner-lock.js';
import type { DirectoryMigration } from './directory.js';
import { type HistoryEntry, readHistory } from './history-store.js';
import { latestVersion, type LatestVersion } from './latest.js';
import { type DocumentChecksum, type MigrateAction, type MigrateOptions, planMigrate } from './reconcile.js';

export interface MigrateResult {
  schema: string;
  /** Migration files in the directory. */
  files: number;
  /** Migrations started in this run (a resumed start included), in order. */
  applied: string[];
  /** Migrations completed in this run, in order. */
  completed: string[];
  /** The migration left active for the new app, if any. */
  leftActive: string | null;
  /** Pending files left alone (after --until). */
  pending: string[];
  /** Files applied although they sort before the last applied one (--allow-out-of-order). */
  outOfOrder: string[];
  /** Applied migrations that no file of the directory gives (`tandem pull` writes them). */
  notInDirectory: string[];
  /** What the new app uses: the latest version schema after this run (also `latest.versionSchema`). */
  latestVersionSchema: string;
  latest: LatestVersion;
  actions: { kind: MigrateAction['kind']; file: string; migration: string; resumed: boolean; versionSchema?: string }[];
  warnings: string[];
  durationMs: number;
}

/** A step of `migrate` that failed: which file, which verb, which step; the cause's exit code and code. */
export class MigrateStepError extends TandemError {
  readonly exitCode: 1 | 2;
  readonly code: string;
  readonly file: string;
  readonly migration: string;
  readonly phase: 'start' | 'complete';
  readonly step: string | undefined;
  constructor(
    action: MigrateAction,
    cause: unknown,
    readonly appliedBefore: string[],
    changed: boolean,
    step: string | undefined,
  ) {
    const causeMessage = cause instanceof Error ? cause.message : String(cause);
    const exitCode = cause instanceof TandemError && !changed ? cause.exitCode : 1;
    super(
      `migrate stopped at ${action.file.fileName} (migration ${action.file.name}), ${action.kind}${step ? `, step "${step}"` : ''}:\n  ${causeMessage.replace(/\n/g, '\n  ')}` +
        (changed ? `\n  this run had already made changes${appliedBefore.length ? ` (started ${appliedBefore.length}, the last ${appliedBefore.at(-1)})` : ''}; ` : '\n  ') +
        'run `tandem migrate` again to resume from here once the cause is fixed (or `tandem rollback` to undo the migration in progress).',
      { cause },
    );
    this.exitCode = exitCode;
    this.code = cause instanceof TandemError ? cause.code : 'execution-failed';
    this.file = action.file.file;
    this.migration = action.file.name;
    this.phase = action.kind;
    this.step = step;
  }
}

/** The step that failed: from the error, else as the executor recorded it (tandem.migrations.last_error). */
async function failedStep(client: pg.Client, schema: string, name: string, err: unknown): Promise<string | undefined> {
  if (err instanceof ExecutionError && err.details.step) return err.details.step;
  if (err instanceof LockTimeoutError) return err.step;
  const r = await client
    .query<{ step: string | null }>(`SELECT last_error ->> 'step' AS step FROM tandem.migrations WHERE schema_name = $1 AND name = $2 AND phase <> 'rolled_back'`, [schema, name])
    .catch(() => undefined);
  return r?.rows[0]?.step ?? undefined;
}

/**
 * `tandem migrate <dir>`: the directory's pending migrations, in file-name order, under the runner
 * lock for the whole run, so that two pipelines migrating one schema never interleave (the
 * second waits with --wait, else fails fast with runner-busy). start and complete take the same
 * advisory lock again inside: PostgreSQL's advisory locks are re-entrant within a session.
 * The history is read after the lock is held, so it cannot change under the run.
 */
export async function migrateDirectory(client: pg.Client, files: DirectoryMigration[], opts: EngineOptions & MigrateOptions = {}): Promise<MigrateResult> {
  const t0 = performance.now();
  const schema = opts.schema ?? 'public';
  return withRunnerLock(client, schema, opts.wait ?? false, async () => {
    const history = await readHistory(client, schema);
    const plan = planMigrate(files, history, schema, await documentChecksumFor(history), opts);
    const result: MigrateResult = {
      schema,
      files: files.length,
      applied: [],
      completed: [],
      leftActive: plan.leftActive,
      pending: plan.leftPending.map((f) => f.name),
      outOfOrder: plan.outOfOrder.map((f) => f.name),
      notInDirectory: plan.notInDirectory.map((e) => e.name),
      latestVersionSchema: schema,
      latest: { versionSchema: schema, migration: null, phase: null },
      actions: [],
      warnings: [],
      durationMs: 0,
    };
    for (const action of plan.actions) await runAction(client, action, opts, result);
    result.latest = await latestVersion(client, schema);
    result.latestVersionSchema = result.latest.versionSchema;
    result.durationMs = Math.round(performance.now() - t0);
    return result;
  });
}

/**
 * The engine is loaded only when it is needed: a run with nothing pending (most deploys of a busy
 * pipeline) reads the files and the history and stops, without loading the planner and executor.
 */
const engine = () => import('../engine/lifecycle.js');

/**
 * Rows applied with their file's checksum never need the document's. A baseline has neither, but
 * no file can match it (a file has operations, a baseline none): '' tells them apart as well.
 */
async function documentChecksumFor(history: HistoryEntry[]): Promise<DocumentChecksum> {
  if (history.every((e) => e.fileChecksum !== null || e.baseline)) return () => '';
  return (await engine()).checksum;
}

async function runAction(client: pg.Client, action: MigrateAction, opts: EngineOptions, result: MigrateResult): Promise<void> {
  const { file } = action;
  opts.reporter?.info(`${action.resume ? 'resuming ' : ''}${action.kind} ${file.fileName}`);
  try {
    if (action.kind === 'start') {
      const r = await (await engine()).start(client, file.migration, { ...opts, source: { fileName: file.fileName, fileChecksum: file.checksum } });
      result.applied.push(file.name);
      result.warnings.push(...r.warnings);
      result.actions.push({ kind: 'start', file: file.fileName, migration: file.name, resumed: r.resumed || action.resume, versionSchema: r.versionSchema });
    } else {
      const r = await (await engine()).complete(client, opts);
      result.completed.push(r.migration);
      result.actions.push({ kind: 'complete', file: file.fileName, migration: r.migration, resumed: action.resume, versionSchema: r.versionSchema });
    }
  } catch (err) {
    const step = await failedStep(client, result.schema, file.name, err);
    throw new MigrateStepError(action, err, result.applied, result.actions.length > 0, step);
  }
}
