import { createHash } from 'node:crypto';
import type pg from 'pg';
import { StateError } from '../errors.js';
import { runPhase, type RunContext } from '../exec/executor.js';
import { defaultExecOptions, type ExecOptions, type Reporter, silentReporter } from '../exec/options.js';
import { withRunnerLock } from '../exec/runner-lock.js';
import type { Migration } from '../migration/schema.js';
import { buildPlan } from '../plan/planner.js';
import type { Plan } from '../plan/types.js';
import {
  findByName,
  inProgress,
  initStateSchema,
  insertMigration,
  latestVersionSchema,
  type MigrationRow,
  setPhase,
  stateSchemaReady,
} from '../state/store.js';

export interface EngineOptions extends Partial<ExecOptions> {
  schema?: string;
  /** Queue behind another runner instead of failing fast. */
  wait?: boolean;
  reporter?: Reporter;
}

interface Resolved {
  schema: string;
  wait: boolean;
  exec: ExecOptions;
  reporter: Reporter;
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
    },
    reporter: opts.reporter ?? silentReporter,
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
  return createHash('sha256').update(JSON.stringify(migrationDocument(m))).digest('hex');
}

async function ensureState(client: pg.Client): Promise<void> {
  if (!(await stateSchemaReady(client))) await initStateSchema(client);
}

function runContext(client: pg.Client, row: MigrationRow, r: Resolved): RunContext {
  return { client, migrationId: row.id, schema: r.schema, migrationName: row.name, options: r.exec, reporter: r.reporter };
}

/** Validate and plan without changing anything. */
export async function plan(client: pg.Client, migration: Migration, opts: EngineOptions = {}): Promise<Plan> {
  const r = resolve(opts);
  const previous = (await stateSchemaReady(client)) ? await latestVersionSchema(client, r.schema) : null;
  return buildPlan(client, { schema: r.schema, migration, previousVersionSchema: previous, lockTimeoutMs: r.exec.lockTimeoutMs, lockRetryForMs: r.exec.lockRetryForMs });
}

export interface StartResult {
  migration: string;
  versionSchema: string;
  resumed: boolean;
  alreadyActive: boolean;
  completed: boolean;
}

/** Expand: everything the new version needs, with the old one still working; then backfill. */
export async function start(client: pg.Client, migration: Migration, opts: EngineOptions & { complete?: boolean } = {}): Promise<StartResult> {
  const r = resolve(opts);
  // Invalid input leaves the database untouched, the state schema included: on a database
  // without it, check the migration against the catalog before creating it.
  if (!(await stateSchemaReady(client))) await buildPlan(client, { schema: r.schema, migration, previousVersionSchema: null, lockTimeoutMs: r.exec.lockTimeoutMs, lockRetryForMs: r.exec.lockRetryForMs });
  await ensureState(client);
  const result = await withRunnerLock(client, r.schema, r.wait, async () => {
    const sum = checksum(migration);
    let row = await inProgress(client, r.schema);
    let resumed = false;
    if (row) {
      if (row.name !== migration.name) {
        throw new StateError(
          `migration "${row.name}" is in progress on schema "${r.schema}" (phase ${row.phase})`,
          'run `tandem complete` or `tandem rollback` first; one migration at a time per schema',
        );
      }
      if (row.checksum !== sum) {
        throw new StateError(`migration "${row.name}" is in progress with different contents than ${migration.file ?? 'this file'}`, 'roll it back before changing the file');
      }
      if (row.phase === 'active' || row.phase === 'completing') {
        return { row, resumed: false, alreadyActive: true };
      }
      if (row.phase === 'rolling_back') {
        throw new StateError(`migration "${row.name}" is being rolled back`, 'run `tandem rollback` to finish it');
      }
      resumed = true;
      r.reporter.info(`resuming start of ${row.name}`);
    } else {
      const existing = await findByName(client, r.schema, migration.name);
      if (existing) throw new StateError(`migration "${migration.name}" was already applied to schema "${r.schema}"`, 'give the new migration another name');
      const previous = await latestVersionSchema(client, r.schema);
      const planned = await buildPlan(client, { schema: r.schema, migration, previousVersionSchema: previous, lockTimeoutMs: r.exec.lockTimeoutMs, lockRetryForMs: r.exec.lockRetryForMs });
      row = await insertMigration(client, {
        schema: r.schema,
        name: migration.name,
        versionSchema: planned.versionSchema,
        previousVersionSchema: previous,
        migration: migrationDocument(migration),
        checksum: sum,
        plan: planned,
      });
    }
    await runPhase(runContext(client, row, r), 'start', row.plan.start);
    await setPhase(client, row.id, 'active');
    return { row, resumed, alreadyActive: false };
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
  };
}

/** Contract: drop the old version's schema and columns; the new version's shape becomes the table's. */
export async function complete(client: pg.Client, opts: EngineOptions = {}): Promise<{ migration: string; versionSchema: string }> {
  const r = resolve(opts);
  // Without a state schema nothing is in progress; do not create it just to say so.
  if (!(await stateSchemaReady(client))) throw new StateError(`no migration is in progress on schema "${r.schema}"`, 'start one with `tandem start <file>`');
  return withRunnerLock(client, r.schema, r.wait, async () => {
    const row = await inProgress(client, r.schema);
    if (!row) throw new StateError(`no migration is in progress on schema "${r.schema}"`, 'start one with `tandem start <file>`');
    if (row.phase === 'starting') {
      throw new StateError(`migration "${row.name}" has not finished starting`, 'run `tandem start` with the same file again to resume it, or `tandem rollback`');
    }
    if (row.phase === 'rolling_back') throw new StateError(`migration "${row.name}" is being rolled back`, 'run `tandem rollback` to finish it');
    if (row.phase === 'active') await setPhase(client, row.id, 'completing');
    else r.reporter.info(`resuming complete of ${row.name}`);
    await runPhase(runContext(client, row, r), 'complete', row.plan.complete);
    await setPhase(client, row.id, 'completed');
    return { migration: row.name, versionSchema: row.version_schema };
  });
}

/** Undo start: the schema is as it was before, for every step that ran. */
export async function rollback(client: pg.Client, opts: EngineOptions = {}): Promise<{ migration: string }> {
  const r = resolve(opts);
  if (!(await stateSchemaReady(client))) throw new StateError(`no migration is in progress on schema "${r.schema}"`, 'nothing to roll back');
  return withRunnerLock(client, r.schema, r.wait, async () => {
    const row = await inProgress(client, r.schema);
    if (!row) throw new StateError(`no migration is in progress on schema "${r.schema}"`, 'nothing to roll back');
    if (row.phase === 'completing') {
      throw new StateError(`migration "${row.name}" is completing; the old version's columns may already be gone`, 'run `tandem complete` to finish it');
    }
    if (row.phase !== 'rolling_back') await setPhase(client, row.id, 'rolling_back');
    else r.reporter.info(`resuming rollback of ${row.name}`);
    await runPhase(runContext(client, row, r), 'rollback', row.plan.rollback);
    await setPhase(client, row.id, 'rolled_back');
    return { migration: row.name };
  });
}
