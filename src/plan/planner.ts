import type pg from 'pg';
import { InvalidInputError, StateError } from '../errors.js';
import type { Migration, OperationKind } from '../migration/schema.js';
import { VirtualSchema, type VTable } from '../model/virtual-schema.js';
import { type DeferredCheck, OpContext, snapshot, type TableWork } from '../operations/context.js';
import { type ColumnSwapPart, composeColumnSwap, isColumnSwapPart } from '../operations/column-swap.js';
import { handlers } from '../operations/registry.js';
import { duplicatesComplete, duplicatesOf, duplicatesStart } from '../operations/shadow.js';
import { ident, identifierFits, qualified } from '../sql/ident.js';
import { scannerReady } from '../sql/rename-refs.js';
import { orderCompleteSteps } from './complete-order.js';
import { composeUp } from './compose-up.js';
import { catalogOf, gatherFacts, type PlanFacts, schemaInfoOf, type TableFacts } from './facts.js';
import { MARKER_COLUMN, triggerFunctionName, triggerName } from './names.js';
import { PLAN_FORMAT_VERSION } from './plan-schema.js';
import { runChecksRetrying } from './trials.js';
import { columnsBesides, createTriggerSql, dropTriggerSql, triggerColumns, triggerFunctionSql } from './trigger.js';
import { grantActions, viewSql } from './version-schema.js';
export { grantsFor, viewSql } from './version-schema.js';
import type { Action, BackfillStep, Plan, SqlStep, Step } from './types.js';

/**
 * Planning in three parts:
 *   gatherFacts(client, …)        reads the database once (src/plan/facts.ts);
 *   planMigration(facts, migration) checks the migration and builds the plan, with no I/O;
 *   runChecksRetrying(client, trials) tries its SQL fragments in a rolled-back transaction
 *                                  (src/plan/trials.ts), before anything is changed.
 * buildPlan does all three, for callers that only want the plan.
 */

export interface PlanInput {
  schema: string;
  migration: Migration;
  /** Version schema of the last completed migration, kept until this one completes. */
  previousVersionSchema: string | null;
  /** lock_timeout of the trial statements (a trial CREATE TABLE … REFERENCES locks the referenced table). */
  lockTimeoutMs?: number;
  /** Total time the trials retry on lock timeouts. */
  lockRetryForMs?: number;
  /** Told what the migration gives that is accepted but unused (e.g. `up` on a comment change). */
  onWarning?: (message: string) => void;
}

export interface PlannedMigration {
  plan: Plan;
  /** SQL fragments (types, expressions, trial statements) to try against the database before any change. */
  trials: DeferredCheck[];
  /** Accepted but worth telling, with where in the file. */
  warnings: string[];
}

/** Gather the facts, plan, and run the trials: invalid input is reported before anything changes. */
export async function buildPlan(client: pg.Client, input: PlanInput): Promise<Plan> {
  const facts = await gatherFacts(client, input);
  const { plan, trials, warnings } = planMigration(facts, input.migration);
  for (const w of warnings) input.onWarning?.(w);
  await runTrials(client, input.migration, trials, input);
  return plan;
}

export async function runTrials(client: pg.Client, migration: Migration, trials: DeferredCheck[], opts: { lockTimeoutMs?: number; lockRetryForMs?: number } = {}): Promise<void> {
  await runChecksRetrying(client, trials, fileLocation(migration), opts.lockTimeoutMs ?? 50, opts.lockRetryForMs ?? 60_000);
}

function fileLocation(migration: Migration): { file?: string } {
  return migration.file !== undefined ? { file: migration.file } : {};
}

function sqlStep(id: string, description: string, actions: Action[]): SqlStep {
  return { kind: 'sql', id, description, transactional: actions.every((a) => a.transactional), actions };
}

function plain(sql: string, description: string, table?: string): Action {
  return { sql, lock: table ? 'ACCESS EXCLUSIVE' : 'none', ...(table ? { table } : {}), transactional: true, description };
}

/** Queries on the view queue behind its ACCESS EXCLUSIVE lock, hence the short lock_timeout. */
function dropView(schema: string, view: string): Action {
  const name = qualified(schema, view);
  return { sql: `DROP VIEW IF EXISTS ${name}`, lock: 'ACCESS EXCLUSIVE', table: name, transactional: true, description: `drop view ${view}` };
}

/** What an operation's `validate` returned, with where it came from. */
interface Resolved {
  kind: OperationKind;
  index: number;
  r: unknown;
}

/** One table's actions of each phase, in operation order (rollback: reverse order). */
interface TableActions {
  start: Action[];
  complete: Action[];
  /** Parts of the column swap at complete, composed into the contract step. */
  swap: ColumnSwapPart[];
  rollback: Action[];
}

/**
 * Check the migration against the facts and build the plan of all three phases. Pure: it reads
 * nothing but its arguments (PostgreSQL's scanner must be loaded; gatherFacts does it).
 */
export function planMigration(facts: PlanFacts, migration: Migration): PlannedMigration {
  if (!scannerReady()) throw new Error("internal: planMigration needs PostgreSQL's scanner: await loadScanner() first (gatherFacts does)");
  const versionSchema = checkTarget(facts, migration);
  const { schema } = facts;
  const catalog = catalogOf(facts);
  const model = VirtualSchema.fromCatalog(catalog);
  const original = model.clone();
  const ctx = new OpContext(schema, versionSchema, model, migration.file, catalog, schemaInfoOf(facts));
  const resolved = validateOperations(ctx, migration);
  refuseRawSqlWithOthers(ctx, migration);
  refuseReusedPhysicalNames(original, resolved, migration);

  const groups = actionsPerTable(resolved);
  addShadowCopies(groups, ctx, catalog, model);

  const start: Step[] = [];
  const complete: Step[] = [];
  const rollback: Step[] = [];
  const backfills: BackfillStep[] = [];
  const afterBackfill: Step[] = [];

  const dropPrevious = dropPreviousVersionSchema(facts);
  if (dropPrevious) complete.push(dropPrevious);
  const finalTables = [...model.tables.values()];
  rollback.push(
    sqlStep('drop-version-schema', `drop version schema ${versionSchema}`, [
      ...finalTables.map((t) => dropView(versionSchema, t.name)),
      plain(`DROP SCHEMA IF EXISTS ${ident(versionSchema)}`, 'drop schema'),
    ]),
  );

  const setting: TableSetting = { schema, versionSchema, migration, original, model, catalog, ctx };
  for (const [key, g] of groups) {
    const phases = tablePhases(key, g, setting);
    start.push(...phases.expand);
    backfills.push(...phases.backfill);
    afterBackfill.push(...phases.build);
    complete.push(...phases.complete);
    // Tables are undone in the reverse order of start (after the version schema's drop, which
    // stays first): a table created later may reference one created earlier.
    rollback.splice(1, 0, ...phases.rollback);
  }

  // Backfill first, version schema last (as pgroll does): until every existing row is filled, the
  // new version would read NULL from its shadow columns, and an update through it of a row not yet
  // backfilled would overwrite the old version's columns with `down(NULL)` and mark the row synced.
  start.push(...backfills, ...afterBackfill);
  if (ctx.rawSql) {
    // What the raw SQL created is only known once it has run: the views are made from the catalog then.
    start.push({ kind: 'version-schema', id: 'create-version-schema', description: `create version schema ${versionSchema} from the catalog`, schema, versionSchema });
    rollback[0] = sqlStep('drop-version-schema', `drop version schema ${versionSchema}`, [
      plain(`DROP SCHEMA IF EXISTS ${ident(versionSchema)} CASCADE`, 'drop schema and its views'),
    ]);
  } else {
    start.push(
      sqlStep('create-version-schema', `create version schema ${versionSchema}`, [
        plain(`CREATE SCHEMA ${ident(versionSchema)}`, 'create schema'),
        ...finalTables.map((t) => ({ ...plain(viewSql(schema, versionSchema, t), `view ${t.name}`), lock: 'ACCESS SHARE' as const, table: qualified(schema, t.physical) })),
        ...grantActions(facts.grants, versionSchema, finalTables),
      ]),
    );
  }

  const plan: Plan = {
    formatVersion: PLAN_FORMAT_VERSION,
    schema,
    migration: migration.name,
    versionSchema,
    previousVersionSchema: facts.previousVersionSchema,
    start,
    complete: orderCompleteSteps({ start, complete }),
    rollback,
  };
  return { plan, trials: ctx.checks, warnings: ctx.warnings };
}

/**
 * Copies of the indexes and constraints that involve shadowed columns, per table: their NOT VALID
 * constraints join the expand transaction, their indexes are built concurrently after the
 * backfill; at complete they are validated, then take back their names after the swap. None for
 * a shadow that a later drop_column drops: nothing would carry the copies; and none of an index
 * or constraint that also uses a column the migration drops (a shadowed one or not): PostgreSQL
 * drops it with the column, and the copy would go with it at complete.
 */
function addShadowCopies(groups: Map<string, TableActions>, ctx: OpContext, catalog: Map<string, TableFacts>, model: VirtualSchema): void {
  for (const [table, sh] of ctx.shadows) {
    const cat = catalog.get(table);
    const kept = new Set(byPhysical(model, table)?.columns.map((c) => c.physical));
    const shadows = new Map([...sh.columns].filter(([, shadow]) => kept.has(shadow)));
    if (!cat || shadows.size === 0) continue;
    // Physical columns of the catalog that the migration leaves in neither form: dropped at complete.
    const dropped = new Set(cat.columns.map((c) => c.name).filter((c) => !kept.has(c) && !shadows.has(c)));
    const dups = duplicatesOf(cat, shadows, sh.without, dropped);
    const g = groupOf(groups, table);
    g.start.push(...duplicatesStart(ctx.schema, table, dups));
    g.complete.push(...duplicatesComplete(ctx.schema, table, dups));
  }
}

interface TableSetting {
  schema: string;
  versionSchema: string;
  migration: Migration;
  /** The schema before the migration, and as the migration leaves it. */
  original: VirtualSchema;
  model: VirtualSchema;
  catalog: Map<string, TableFacts>;
  ctx: OpContext;
}

/** One table's steps of each phase. */
interface TablePhases {
  /** The table's expand transaction, then its backfill, then its concurrent builds. */
  expand: Step[];
  backfill: BackfillStep[];
  build: Step[];
  complete: Step[];
  rollback: Step[];
}

/**
 * The steps of one table (`key`, its physical name): one expand transaction at start (with the
 * sync trigger and the backfill's marker column), a step per statement that cannot run in a
 * transaction (CONCURRENTLY); at complete, validations, then one contract transaction (trigger
 * dropped, column swap, the operations' contract statements, marker dropped, table renamed last),
 * then cleanup; at rollback, the undo of all that.
 */
function tablePhases(key: string, g: TableActions, s: TableSetting): TablePhases {
  const { schema, ctx } = s;
  const tableRef = qualified(schema, key);
  const work = ctx.works.get(key);
  const sync = work ? syncOf(work, { schema, key, versionSchema: s.versionSchema, migration: s.migration, original: s.original, catalog: s.catalog }) : undefined;
  const startActions = [...g.start, ...(sync?.start ?? [])];
  const dropTrigger = sync?.drop ?? [];
  const dropMarker = sync?.backfill ? [plain(`ALTER TABLE ${tableRef} DROP COLUMN IF EXISTS ${ident(MARKER_COLUMN)}`, 'drop backfill marker column', tableRef)] : [];

  // Statements that cannot run in a transaction block (CONCURRENTLY) get a step each.
  const inTx = (actions: Action[]) => actions.filter((a) => a.transactional);
  const alone = (prefix: string, actions: Action[]) => actions.filter((a) => !a.transactional).map((a, i) => sqlStep(`${prefix}:${key}:${i}`, a.description, [a]));
  const expand = inTx(startActions).length ? [sqlStep(`expand:${key}`, `expand ${key}`, inTx(startActions))] : [];
  // After the table's backfill (every row in sync), before its concurrent builds.
  const build = [...(sync?.narrow ? [sqlStep(`narrow-trigger:${key}`, `narrow the sync trigger of ${key}`, [sync.narrow])] : []), ...alone('build', startActions)];

  const complete: Step[] = [];
  const scans = g.complete.filter((a) => a.scans);
  if (scans.length) complete.push(sqlStep(`validate:${key}`, `validate constraints of ${key}`, scans));
  const contract = inTx(g.complete.filter((a) => !a.scans));
  const finalize = [
    ...dropTrigger,
    ...columnSwapOf(schema, key, s.catalog.get(key), byPhysical(s.model, key), ctx.createdPhysicals(key), g.swap),
    ...contract.filter((a) => !a.renamesTable),
    ...dropMarker,
    // The table's other statements use its old name.
    ...contract.filter((a) => a.renamesTable),
  ];
  if (finalize.length) complete.push(sqlStep(`contract:${key}`, `contract ${key}`, finalize));
  complete.push(...alone('cleanup', g.complete));

  // User SQL is not idempotent like ours: a `down` runs only if the start steps of its `up` ran.
  const guard = ctx.rawSql ? { onlyIfStarted: [...expand, ...build].map((st) => st.id) } : {};
  const rollback: Step[] = alone('undo-build', g.rollback).map((st) => ({ ...st, ...guard }));
  const undo = [...dropTrigger, ...inTx(g.rollback), ...dropMarker];
  if (undo.length) rollback.push({ ...sqlStep(`undo:${key}`, `undo ${key}`, undo), ...guard });
  return { expand, backfill: sync?.backfill ? [sync.backfill] : [], build, complete, rollback };
}

/** The target schema must exist and the version schema must not; returns the version schema's name. */
function checkTarget(facts: PlanFacts, migration: Migration): string {
  const fileLoc = fileLocation(migration);
  if (!facts.schemaExists) {
    throw new InvalidInputError(`schema "${facts.schema}" does not exist`, fileLoc, 'pass --schema with an existing schema', { code: 'schema-not-found' });
  }
  const versionSchema = facts.versionSchema;
  if (!identifierFits(versionSchema)) {
    throw new InvalidInputError(
      `version schema name "${versionSchema}" is longer than 63 bytes`,
      { ...fileLoc, field: migration.versionSchema !== undefined ? 'version_schema' : 'name' },
      'use a shorter name or set version_schema',
      { code: 'name-too-long' },
    );
  }
  if (facts.versionSchemaExists) {
    throw new StateError(`schema "${versionSchema}" already exists`, 'each migration needs a fresh version schema: rename the migration or drop that schema', {
      code: 'version-schema-exists',
    });
  }
  return versionSchema;
}

/** Each operation checked against the model as the operations before it left it. */
function validateOperations(ctx: OpContext, migration: Migration): Resolved[] {
  return migration.operations.map((op, index) => {
    ctx.index = index;
    ctx.operation = op.kind;
    const r: unknown = handlers[op.kind].validate(op.body as never, ctx);
    ctx.endOperation();
    return { kind: op.kind, index, r };
  });
}

function refuseRawSqlWithOthers(ctx: OpContext, migration: Migration): void {
  if (!ctx.rawSql || migration.operations.every((o) => o.kind === 'sql')) return;
  const index = migration.operations.findIndex((o) => o.kind === 'sql');
  throw new InvalidInputError(
    'a raw sql operation must be alone in its migration (other sql operations aside): tandem cannot see what it changes',
    { ...fileLocation(migration), operationIndex: index, operation: 'sql' },
    'move the other operations to their own migration',
  );
}

/** A rename or drop only hides a column until complete: its physical name is not free before. */
function refuseReusedPhysicalNames(original: VirtualSchema, resolved: Resolved[], migration: Migration): void {
  for (const { kind, index, r } of resolved) {
    if (kind !== 'add_column') continue;
    const { table, column } = r as { table: string; column: { name: string } };
    if (original.table(table)?.columns.some((c) => c.physical === column.name)) {
      throw new InvalidInputError(
        `column "${column.name}" still exists in table "${table}" until this migration completes (it is renamed or dropped here)`,
        { ...fileLocation(migration), operationIndex: index, operation: kind, field: 'column.name' },
        'add the column in a later migration, or give it another name',
      );
    }
  }
}

function groupOf(groups: Map<string, TableActions>, key: string): TableActions {
  let g = groups.get(key);
  if (!g) groups.set(key, (g = { start: [], complete: [], swap: [], rollback: [] }));
  return g;
}

/**
 * The operations' actions grouped per table, in the order tables are first touched: each group
 * is one transaction, so a concurrent query sees a table either untouched or fully set up.
 */
function actionsPerTable(resolved: Resolved[]): Map<string, TableActions> {
  const groups = new Map<string, TableActions>();
  for (const { kind, r } of resolved) {
    const h = handlers[kind];
    const key = (r as { table?: string }).table ?? (r as { body?: { name?: string } }).body?.name ?? '(migration)';
    const g = groupOf(groups, key);
    g.start.push(...h.start(r as never));
    for (const a of h.complete(r as never)) {
      if (isColumnSwapPart(a)) g.swap.push(a);
      else g.complete.push(a);
    }
    g.rollback.unshift(...h.rollback(r as never));
  }
  return groups;
}

function dropPreviousVersionSchema(facts: PlanFacts): SqlStep | undefined {
  const previous = facts.previousVersionSchema;
  if (!previous) return undefined;
  return sqlStep('drop-previous-version', `drop version schema ${previous}`, [
    ...facts.previousViews.map((v) => dropView(previous, v)),
    plain(`DROP SCHEMA IF EXISTS ${ident(previous)}`, 'drop schema'),
  ]);
}

interface SyncSetting {
  schema: string;
  key: string;
  versionSchema: string;
  migration: Migration;
  original: VirtualSchema;
  catalog: Map<string, TableFacts>;
}

/**
 * A table whose operations give `up`/`down` values gets a sync trigger (and, if existing rows
 * need filling, a marker column and a backfill); renames and comments alone need none.
 */
function syncOf(work: TableWork, s: SyncSetting): { start: Action[]; drop: Action[]; backfill?: BackfillStep; narrow?: Action } | undefined {
  if (!work.stages.some((st) => st.up.length || st.down.length)) return undefined;
  const tableRef = qualified(s.schema, s.key);
  const before = byPhysical(s.original, s.key)!;
  const spec = {
    schema: s.schema,
    table: s.key,
    functionName: triggerFunctionName(s.key, s.versionSchema),
    triggerName: triggerName(s.versionSchema),
    versionName: s.migration.versionSchema ?? s.migration.name,
    versionSchema: s.versionSchema,
    original: snapshot(before),
    stages: work.stages,
    marker: work.backfill,
  };
  // Composed before the trigger: while rows are to be backfilled, the trigger watches every
  // column but those the set-based backfill writes (see createTriggerSql).
  const up = work.backfill ? composeUp(spec.original, work.stages) : undefined;
  const watched = !work.backfill ? triggerColumns(spec) : up ? columnsBesides(spec, [...up.targets, MARKER_COLUMN]) : 'every update';
  const trigger = (columns: string[] | 'every update', replace: boolean, description: string): Action => ({
    sql: createTriggerSql(spec, columns, replace),
    lock: 'SHARE ROW EXCLUSIVE',
    table: tableRef,
    transactional: true,
    description,
  });
  const start: Action[] = [];
  if (work.backfill) start.push(plain(`ALTER TABLE ${tableRef} ADD COLUMN ${ident(MARKER_COLUMN)} boolean`, 'add backfill marker column', tableRef));
  start.push({ sql: triggerFunctionSql(spec), lock: 'none', transactional: true, description: `sync function for ${s.key}` }, trigger(watched, false, `sync trigger on ${s.key}`));
  const drop = dropTriggerSql(spec).map((sql) => plain(sql, 'drop sync trigger', tableRef));
  if (!work.backfill) return { start, drop };
  // Once every row is in sync, updates of columns the trigger neither reads nor writes need no
  // PL/pgSQL at all.
  const narrow = trigger(triggerColumns(spec), true, `sync trigger on ${s.key} fires only for updates of the columns it reads or writes`);
  // Keyed as the table is now (the key a create_constraint adds only exists after complete);
  // with no primary or unique not-null key, the backfill walks the table by ctid ranges.
  const keyColumns = before.primaryKey.length ? before.primaryKey : before.uniqueNotNullKey;
  const columns = s.catalog.get(s.key)!.columns;
  const backfill: BackfillStep = {
    kind: 'backfill',
    id: `backfill:${s.key}`,
    description: `backfill ${s.key}`,
    schema: s.schema,
    table: s.key,
    keyColumns,
    keyTypes: keyColumns.map((k) => columns.find((c) => c.name === k)!.type),
    markerColumn: MARKER_COLUMN,
    estimatedRows: before.estimatedRows,
  };
  if (up) backfill.up = up;
  return { start, drop, backfill, narrow };
}

/**
 * The table's column swap at complete (src/operations/column-swap.ts), from the operations'
 * parts; none for a table that is dropped or created by the migration.
 */
function columnSwapOf(schema: string, table: string, before: TableFacts | undefined, after: VTable | undefined, created: string[], parts: ColumnSwapPart[]): Action[] {
  if (!before || !after) return [];
  return composeColumnSwap(schema, table, [...before.columns.map((c) => c.name), ...created], parts);
}

export function byPhysical(model: VirtualSchema, physical: string): VTable | undefined {
  for (const t of model.tables.values()) if (t.physical === physical) return t;
  return undefined;
}
