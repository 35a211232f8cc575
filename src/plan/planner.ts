import type pg from 'pg';
import { type CatalogTable, readSchemaInfo, readTables, schemaExists } from '../catalog/read.js';
import { InvalidInputError, StateError } from '../errors.js';
import type { Migration } from '../migration/schema.js';
import { VirtualSchema, type VTable } from '../model/virtual-schema.js';
import { OpContext, snapshot } from '../operations/context.js';
import { handlers } from '../operations/registry.js';
import { duplicatesComplete, duplicatesOf, duplicatesStart } from '../operations/shadow.js';
import { ident, identifierFits, qualified } from '../sql/ident.js';
import { loadScanner } from '../sql/rename-refs.js';
import { MARKER_COLUMN, triggerFunctionName, triggerName, versionSchemaName } from './names.js';
import { runChecksRetrying } from './trials.js';
import { createTriggerSql, dropTriggerSql, triggerFunctionSql } from './trigger.js';
import { grantsFor, viewSql } from './version-schema.js';
export { grantsFor, viewSql } from './version-schema.js';
import type { Action, BackfillStep, Plan, SqlStep, Step } from './types.js';

export interface PlanInput {
  schema: string;
  migration: Migration;
  /** Version schema of the last completed migration, kept until this one completes. */
  previousVersionSchema: string | null;
  /** lock_timeout of the trial statements (a trial CREATE TABLE … REFERENCES locks the referenced table). */
  lockTimeoutMs?: number;
  /** Total time the trials retry on lock timeouts. */
  lockRetryForMs?: number;
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

/**
 * Check the migration against the live catalog and build the plan of all three phases. Runs only
 * reads, plus trial statements inside a transaction that is always rolled back.
 */
export async function buildPlan(client: pg.Client, input: PlanInput): Promise<Plan> {
  const { schema, migration } = input;
  const fileLoc = migration.file !== undefined ? { file: migration.file } : {};
  if (!(await schemaExists(client, schema))) {
    throw new InvalidInputError(`schema "${schema}" does not exist`, fileLoc, 'pass --schema with an existing schema');
  }
  const versionSchema = versionSchemaName(schema, migration.versionSchema ?? migration.name);
  if (!identifierFits(versionSchema)) {
    throw new InvalidInputError(`version schema name "${versionSchema}" is longer than 63 bytes`, { ...fileLoc, field: 'name' }, 'use a shorter name or set version_schema');
  }
  if (await schemaExists(client, versionSchema)) {
    throw new StateError(`schema "${versionSchema}" already exists`, 'each migration needs a fresh version schema: rename the migration or drop that schema');
  }
  await loadScanner();
  const catalog = await readTables(client, schema);
  const model = VirtualSchema.fromCatalog(catalog);
  const original = model.clone();
  const info = await readSchemaInfo(client, schema, input.previousVersionSchema ? [input.previousVersionSchema] : []);
  const ctx = new OpContext(schema, versionSchema, model, migration.file, catalog, info);

  const resolved = migration.operations.map((op, index) => {
    ctx.index = index;
    ctx.operation = op.kind;
    const r = handlers[op.kind].validate(op.body as never, ctx);
    ctx.endOperation();
    return { kind: op.kind, index, r };
  });

  if (ctx.rawSql && migration.operations.some((o) => o.kind !== 'sql')) {
    const index = migration.operations.findIndex((o) => o.kind === 'sql');
    throw new InvalidInputError(
      'a raw sql operation must be alone in its migration (other sql operations aside): tandem cannot see what it changes',
      { ...fileLoc, operationIndex: index, operation: 'sql' },
      'move the other operations to their own migration',
    );
  }
  // A rename or drop only hides a column until complete: its physical name is not free before.
  for (const { kind, index, r } of resolved) {
    if (kind !== 'add_column') continue;
    const { table, column } = r as { table: string; column: { name: string } };
    if (original.table(table)?.columns.some((c) => c.physical === column.name)) {
      throw new InvalidInputError(
        `column "${column.name}" still exists in table "${table}" until this migration completes (it is renamed or dropped here)`,
        { ...fileLoc, operationIndex: index, operation: kind, field: 'column.name' },
        'add the column in a later migration, or give it another name',
      );
    }
  }
  await runChecksRetrying(client, ctx.checks, fileLoc, input.lockTimeoutMs ?? 50, input.lockRetryForMs ?? 60_000);

  // Actions grouped per table, in the order tables are first touched: each group is one
  // transaction, so a concurrent query sees a table either untouched or fully set up.
  const groups = new Map<string, { start: Action[]; complete: Action[]; rollback: Action[] }>();
  const group = (key: string) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { start: [], complete: [], rollback: [] }));
    return g;
  };
  for (const { kind, r } of resolved) {
    const h = handlers[kind];
    const start = h.start(r as never);
    const complete = h.complete(r as never);
    const rollback = h.rollback(r as never);
    const key = (r as { table?: string }).table ?? (r as { body?: { name?: string } }).body?.name ?? '(migration)';
    const g = group(key);
    g.start.push(...start);
    g.complete.push(...complete);
    g.rollback.unshift(...rollback);
  }

  const start: Step[] = [];
  const complete: Step[] = [];
  const rollback: Step[] = [];
  const backfills: BackfillStep[] = [];
  const afterBackfill: Step[] = [];

  if (input.previousVersionSchema) {
    const views = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'v' ORDER BY 1`,
      [input.previousVersionSchema],
    );
    complete.push(
      sqlStep('drop-previous-version', `drop version schema ${input.previousVersionSchema}`, [
        ...views.rows.map((v) => dropView(input.previousVersionSchema!, v.name)),
        plain(`DROP SCHEMA IF EXISTS ${ident(input.previousVersionSchema)}`, 'drop schema'),
      ]),
    );
  }
  const finalTables = [...model.tables.values()];
  const dropVersionSchema = sqlStep('drop-version-schema', `drop version schema ${versionSchema}`, [
    ...finalTables.map((t) => dropView(versionSchema, t.name)),
    plain(`DROP SCHEMA IF EXISTS ${ident(versionSchema)}`, 'drop schema'),
  ]);
  rollback.push(dropVersionSchema);

  // Copies of the indexes and constraints that involve shadowed columns, per table: their NOT VALID
  // constraints join the expand transaction, their indexes are built concurrently after the
  // backfill; at complete they are validated, then take back their names after the swap.
  for (const [table, sh] of ctx.shadows) {
    const cat = catalog.get(table);
    if (!cat) continue;
    const dups = duplicatesOf(cat, sh.columns, sh.without);
    const g = group(table);
    g.start.push(...duplicatesStart(schema, table, dups));
    g.complete.push(...duplicatesComplete(schema, table, dups));
  }

  for (const [key, g] of groups) {
    const work = ctx.works.get(key);
    const tableRef = qualified(schema, key);
    const startActions = [...g.start];
    let dropTrigger: Action[] = [];
    if (work && work.stages.some((st) => st.up.length || st.down.length)) {
      const spec = {
        schema,
        table: key,
        functionName: triggerFunctionName(key, versionSchema),
        triggerName: triggerName(versionSchema),
        versionName: migration.versionSchema ?? migration.name,
        versionSchema,
        original: snapshot(byPhysical(original, key)!),
        stages: work.stages,
        marker: work.backfill,
      };
      if (work.backfill) {
        startActions.push(plain(`ALTER TABLE ${tableRef} ADD COLUMN ${ident(MARKER_COLUMN)} boolean`, 'add backfill marker column', tableRef));
      }
      startActions.push(
        { sql: triggerFunctionSql(spec), lock: 'none', transactional: true, description: `sync function for ${key}` },
        { sql: createTriggerSql(spec), lock: 'SHARE ROW EXCLUSIVE', table: tableRef, transactional: true, description: `sync trigger on ${key}` },
      );
      dropTrigger = dropTriggerSql(spec).map((sql) => plain(sql, 'drop sync trigger', tableRef));
      if (work.backfill) {
        // Keyed as the table is now (the key a create_constraint adds only exists after complete);
        // with no primary or unique not-null key, the backfill walks the table by ctid ranges.
        const table = byPhysical(original, key)!;
        const keyColumns = table.primaryKey.length ? table.primaryKey : table.uniqueNotNullKey;
        const cat = catalog.get(key)!;
        backfills.push({
          kind: 'backfill',
          id: `backfill:${key}`,
          description: `backfill ${key}`,
          schema,
          table: key,
          keyColumns,
          keyTypes: keyColumns.map((k) => cat.columns.find((c) => c.name === k)!.type),
          markerColumn: MARKER_COLUMN,
          estimatedRows: table.estimatedRows,
        });
      }
    }
    // Statements that cannot run in a transaction block (CONCURRENTLY) get a step each.
    const inTx = (actions: Action[]) => actions.filter((a) => a.transactional);
    const alone = (prefix: string, actions: Action[]) =>
      actions.filter((a) => !a.transactional).map((a, i) => sqlStep(`${prefix}:${key}:${i}`, a.description, [a]));
    if (inTx(startActions).length) start.push(sqlStep(`expand:${key}`, `expand ${key}`, inTx(startActions)));
    afterBackfill.push(...alone('build', startActions));

    const scans = g.complete.filter((a) => a.scans);
    if (scans.length) complete.push(sqlStep(`validate:${key}`, `validate constraints of ${key}`, scans));
    const contract = inTx(g.complete.filter((a) => !a.scans));
    const finalize = [...dropTrigger, ...swapColumns(schema, key, catalog.get(key), byPhysical(model, key), ctx.createdPhysicals(key)), ...contract.filter((a) => !a.renamesTable)];
    if (work?.backfill) finalize.push(plain(`ALTER TABLE ${tableRef} DROP COLUMN IF EXISTS ${ident(MARKER_COLUMN)}`, 'drop backfill marker column', tableRef));
    finalize.push(...contract.filter((a) => a.renamesTable));
    if (finalize.length) complete.push(sqlStep(`contract:${key}`, `contract ${key}`, finalize));
    complete.push(...alone('cleanup', g.complete));

    // User SQL is not idempotent like ours: a `down` runs only if the start steps of its `up` ran.
    const guard = ctx.rawSql ? { onlyIfStarted: [...(inTx(startActions).length ? [`expand:${key}`] : []), ...alone('build', startActions).map((s) => s.id)] } : {};
    const undoSteps: Step[] = alone('undo-build', g.rollback).map((s) => ({ ...s, ...guard }));
    const undo = [...dropTrigger, ...inTx(g.rollback)];
    if (work?.backfill) undo.push(plain(`ALTER TABLE ${tableRef} DROP COLUMN IF EXISTS ${ident(MARKER_COLUMN)}`, 'drop backfill marker column', tableRef));
    if (undo.length) undoSteps.push({ ...sqlStep(`undo:${key}`, `undo ${key}`, undo), ...guard });
    // Tables are undone in the reverse order of start (after the version schema's drop, which
    // stays first): a table created later may reference one created earlier.
    rollback.splice(1, 0, ...undoSteps);
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
        ...(await grantsFor(client, schema, versionSchema, finalTables)),
      ]),
    );
  }

  return { schema, migration: migration.name, versionSchema, previousVersionSchema: input.previousVersionSchema, start, complete, rollback };
}

/**
 * The columns' swap at complete, for a whole table at once: every physical column the final
 * table does not use (old columns replaced by shadows, dropped columns) is dropped, then every
 * column whose physical name differs from its final name is renamed — through temporary names
 * when one rename's target is another's source.
 */
function swapColumns(schema: string, table: string, before: CatalogTable | undefined, after: VTable | undefined, created: string[]): Action[] {
  if (!before || !after) return [];
  const act = (clause: string, description: string) => plain(`ALTER TABLE ${qualified(schema, table)} ${clause}`, description, qualified(schema, table));
  const used = new Set(after.columns.map((c) => c.physical));
  const present = [...before.columns.map((c) => c.name), ...created];
  const actions = present.filter((p) => !used.has(p)).map((p) => act(`DROP COLUMN ${ident(p)}`, `drop column ${p}`));
  const remaining = new Set(present.filter((p) => used.has(p)));
  const renames = after.columns.filter((c) => c.physical !== c.name);
  const clash = renames.some((c) => remaining.has(c.name));
  renames.forEach((c, i) => {
    if (clash) actions.push(act(`RENAME COLUMN ${ident(c.physical)} TO ${ident(`_tandem_swap_${i}`)}`, `rename ${c.physical} (step 1 of 2)`));
    else actions.push(act(`RENAME COLUMN ${ident(c.physical)} TO ${ident(c.name)}`, `rename ${c.physical} to ${c.name}`));
  });
  if (clash) renames.forEach((c, i) => actions.push(act(`RENAME COLUMN ${ident(`_tandem_swap_${i}`)} TO ${ident(c.name)}`, `rename ${c.physical} to ${c.name}`)));
  return actions;
}

export function byPhysical(model: VirtualSchema, physical: string): VTable | undefined {
  for (const t of model.tables.values()) if (t.physical === physical) return t;
  return undefined;
}

