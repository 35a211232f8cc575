import type { CatalogTable } from '../catalog/read.js';
import type { CheckDef, ForeignKeyDef } from '../migration/schema.js';
import type { VColumn, VTable } from '../model/virtual-schema.js';
import { fitName, notNullCheckName, shadowColumn } from '../plan/names.js';
import type { Action } from '../plan/types.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { offsetAfterKeyword, renameColumnRefs } from '../sql/rename-refs.js';
import { checkClause, referencesClause } from './column-sql.js';
import type { OpContext } from './context.js';
import { type CompleteAction, swapDrop, swapRename } from './column-swap.js';
import { alterTable, validateConstraint } from './handler.js';

/** An index or constraint of the old column, re-created on the shadow under a temporary name. */
export interface Duplicate {
  kind: 'index' | 'unique-constraint' | 'check' | 'foreign-key';
  /** Name it has on the old column, and gets back at complete. */
  name: string;
  temporary: string;
  /** For indexes: the CREATE INDEX CONCURRENTLY; for constraints: the constraint definition. */
  sql: string;
}

export interface ShadowOptions {
  finalName: string;
  type: string;
  notNull: boolean;
  /** Default of the new column; undefined carries the old one over. */
  default?: string | null;
  comment?: string | null;
  check?: CheckDef;
  unique?: { name: string };
  references?: ForeignKeyDef;
  /** A constraint of the old column the new column does not get (drop_constraint). */
  withoutConstraint?: string;
  /** Old → new, over the old version's columns; default: the column itself. */
  up: string;
  /** New → old, over the new version's columns; default: the column itself. */
  down: string;
}

/**
 * Everything about one shadow column: the new version's definition of an existing column, kept
 * in step with the old one by the table's sync trigger, swapped in at complete.
 */
export interface ShadowPlan {
  schema: string;
  table: string;
  oldPhysical: string;
  shadow: string;
  /** The column in the model: its name at the end of the migration is the one complete uses. */
  column: VColumn;
  /** Its table in the model: a later drop_column takes the column out of it. */
  tableModel: VTable;
  type: string;
  notNull: boolean;
  default: string | null;
  comment: string | null | undefined;
  check: CheckDef | undefined;
  unique: { name: string } | undefined;
  references: ForeignKeyDef | undefined;
}

/**
 * Plan a shadow for `column`: checks what the old column carries (indexes, constraints) and what
 * depends on it, records the trigger assignments and the backfill, and updates the model so that
 * the new version sees the shadow under `finalName`.
 */
export function planShadow(ctx: OpContext, table: VTable, column: VColumn, opts: ShadowOptions, field = 'column'): ShadowRef {
  const existing = ctx.shadowPlans.get(column.id);
  const physicalBefore = column.physical;
  if (!existing) {
    if (table.primaryKey.includes(column.physical)) {
      ctx.fail(`column "${column.name}" is part of the primary key of "${table.name}"; a shadow copy of it is not supported`, field);
    }
    if (column.generatedBy !== undefined) {
      // The shadow would be a plain column: an identity would be lost, and an owned sequence
      // (serial) would make complete's DROP COLUMN fail after the point of no return.
      ctx.fail(
        `column "${column.name}" is ${column.generatedBy === 'identity' ? 'an identity column' : column.generatedBy === 'expression' ? 'a generated column' : 'filled from a sequence (serial)'}; changing it through a shadow column is not supported`,
        field,
        'add a new column and copy the values in steps instead',
      );
    }
    for (const con of ctx.catalog.get(table.physical)?.constraints ?? []) {
      if (con.type === 'x' && con.columns.includes(column.physical)) {
        ctx.fail(`column "${column.name}" is part of exclusion constraint "${con.name}"; a shadow copy of it is not supported`, field);
      }
    }
    if (!table.columns.some((c) => c === column) || ctx.catalog.get(table.physical)?.columns.every((c) => c.name !== column.physical)) {
      ctx.fail(`column "${column.name}" is added by this migration; give it its final definition in add_column`, field);
    }
    ctx.requireDroppable(table.physical, column.physical, field);
  } else {
    for (const f of ['check', 'unique', 'references'] as const) {
      if (opts[f] !== undefined && existing[f] !== undefined) ctx.fail(`column "${column.name}" already gets a ${f} from an earlier operation of this migration`, f);
    }
  }
  const shadow = existing?.shadow ?? shadowColumn(opts.finalName);
  if (!existing && (table.columns.some((c) => c.physical === shadow) || (ctx.catalog.get(table.physical)?.columns.some((c) => c.name === shadow) ?? false))) {
    ctx.fail(`column name "${shadow}" is already taken`, field);
  }
  ctx.shadowed(table.physical, existing?.oldPhysical ?? column.physical, shadow, opts.withoutConstraint);

  ctx.checkType(opts.type, 'type');
  ctx.checkExpression(opts.up, 'old', table.name, opts.type, 'up');
  ctx.checkExpression(opts.down, 'new', table.name, column.type, 'down');
  const newDefault = opts.default === undefined ? column.default : opts.default;
  if (newDefault !== null) ctx.checkExpression(newDefault, 'none', undefined, opts.type, opts.default === undefined ? `${field} (its default)` : 'default');

  ctx.work(table).backfill = true;
  // The value of the column after this operation, for old writers; before it, for new writers.
  ctx.assignUp(table, column, opts.up);
  ctx.assignDown(table, column, opts.down);
  Object.assign(column, { name: opts.finalName, physical: shadow, type: opts.type, nullable: !opts.notNull, default: newDefault });

  // A later operation on the same column changes the same shadow: one copy, the last definition.
  const plan: ShadowPlan = existing ?? {
    schema: ctx.schema,
    table: table.physical,
    oldPhysical: physicalBefore,
    shadow,
    tableModel: table,
    column,
    type: opts.type,
    notNull: opts.notNull,
    default: newDefault,
    comment: undefined,
    check: undefined,
    unique: undefined,
    references: undefined,
  };
  Object.assign(plan, { type: opts.type, notNull: opts.notNull, default: newDefault });
  if (opts.comment !== undefined) plan.comment = opts.comment;
  // The check names the column as this operation does; it is written over the shadow right away.
  if (opts.check) plan.check = { ...opts.check, constraint: renameColumnRefs(opts.check.constraint, opts.finalName, shadow) };
  if (opts.unique) plan.unique = opts.unique;
  if (opts.references) plan.references = opts.references;
  ctx.shadowPlans.set(column.id, plan);
  return { plan, first: !existing };
}

/**
 * The indexes and constraints of a table that involve shadowed columns, re-created over the
 * shadows (all of a table's shadows at once, so a multi-column index gets every shadow it needs).
 * `without`: constraints the new version drops. `dropped`: the table's columns that this
 * migration drops (a shadowed column dropped later included): as PostgreSQL's DROP COLUMN drops
 * the indexes and constraints that use the column, one that uses any of them gets no copy (at
 * complete the copy would be dropped with the column); the old version keeps the original until
 * then.
 */
export function duplicatesOf(catalog: Omit<CatalogTable, 'oid'>, shadows: Map<string, string>, without: Set<string>, dropped: Set<string> = new Set()): Duplicate[] {
  const renameAll = (sql: string, startAt = 0) => {
    let out = sql;
    for (const [column, shadow] of shadows) out = renameColumnRefs(out, column, shadow, startAt);
    return out;
  };
  // Expressions and predicates of an index name columns its column list does not hold.
  const usesDropped = (sql: string, startAt: number) => [...dropped].some((c) => renameColumnRefs(sql, c, `${c}_`, startAt) !== sql);
  const out: Duplicate[] = [];
  const backing = new Set(catalog.constraints.filter((c) => ['u', 'p', 'x'].includes(c.type)).map((c) => c.name));
  for (const con of catalog.constraints) {
    if (without.has(con.name) || !con.columns.some((c) => shadows.has(c)) || con.columns.some((c) => dropped.has(c))) continue;
    const temporary = fitName(`_tandem_${con.name}`);
    if (con.type === 'c') out.push({ kind: 'check', name: con.name, temporary, sql: renameAll(con.definition) });
    if (con.type === 'f') {
      // Only the referencing column list (before REFERENCES) names this table's columns.
      const refAt = con.definition.indexOf(' REFERENCES ');
      out.push({ kind: 'foreign-key', name: con.name, temporary, sql: renameAll(con.definition.slice(0, refAt)) + con.definition.slice(refAt) });
    }
  }
  for (const idx of catalog.indexes) {
    if (idx.primary || without.has(idx.name)) continue;
    const at = offsetAfterKeyword(idx.definition, 'USING');
    const rewritten = renameAll(idx.definition, at);
    if (rewritten === idx.definition || idx.columns.some((c) => dropped.has(c)) || usesDropped(idx.definition, at)) continue;
    const temporary = fitName(`_tandem_${idx.name}`);
    // "CREATE [UNIQUE] INDEX name ON table USING …" → concurrent build of the copy under a temporary name.
    const sql = rewritten.replace(
      /^CREATE (UNIQUE )?INDEX (\S+) ON /,
      (_m, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX CONCURRENTLY IF NOT EXISTS ${ident(temporary)} ON `,
    );
    out.push({ kind: backing.has(idx.name) ? 'unique-constraint' : 'index', name: idx.name, temporary, sql });
  }
  return out;
}

/** A shadow as one operation holds it: only the operation that created it emits its statements. */
export interface ShadowRef {
  plan: ShadowPlan;
  first: boolean;
}

export const shadowPhases = {
  start: (r: ShadowRef): Action[] => (r.first ? shadowStart(r.plan) : []),
  complete: (r: ShadowRef): CompleteAction[] => (r.first ? shadowComplete(r.plan) : []),
  rollback: (r: ShadowRef): Action[] => (r.first ? shadowRollback(r.plan) : []),
};

/** At start, in the table's expand transaction (and, for indexes, concurrently after the backfill). */
function shadowStart(p: ShadowPlan): Action[] {
  const s = ident(p.shadow);
  const t = (clause: string, description: string) => alterTable(p.schema, p.table, clause, 'ACCESS EXCLUSIVE', description);
  const actions: Action[] = [t(`ADD COLUMN ${s} ${p.type}`, `add shadow column ${p.shadow}`)];
  // Defaults and constraints are added after the column, so existing rows are not rewritten or scanned.
  if (p.default !== null) actions.push(t(`ALTER COLUMN ${s} SET DEFAULT (${p.default})::${p.type}`, 'default of the new column'));
  if (p.notNull) actions.push(t(`ADD CONSTRAINT ${ident(notNullCheckName(p.shadow))} CHECK (${s} IS NOT NULL) NOT VALID`, 'NOT NULL as a NOT VALID check'));
  if (p.check) actions.push(t(`ADD ${checkClause(p.check)} NOT VALID`, `check ${p.check.name} (not valid)`));
  if (p.references) {
    actions.push(
      t(`ADD ${referencesClause(p.schema, p.references).replace(' REFERENCES ', ` FOREIGN KEY (${s}) REFERENCES `)} NOT VALID`, `foreign key ${p.references.name} (not valid)`),
    );
  }
  if (p.comment !== undefined) {
    actions.push({
      sql: `COMMENT ON COLUMN ${qualified(p.schema, p.table)}.${s} IS ${p.comment === null ? 'NULL' : literal(p.comment)}`,
      lock: 'SHARE UPDATE EXCLUSIVE',
      table: qualified(p.schema, p.table),
      transactional: true,
      description: 'comment',
    });
  }
  const concurrent = concurrentBuild(p.schema, p.table);
  if (p.unique) {
    const temp = fitName(`_tandem_${p.unique.name}`);
    actions.push(
      concurrent(
        temp,
        `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ${ident(temp)} ON ${qualified(p.schema, p.table)} (${s})`,
        `unique index for ${p.unique.name}, concurrently`,
      ),
    );
  }
  return actions;
}

/** At complete: validations first (they scan, under locks that block no traffic), then the swap. */
function shadowComplete(p: ShadowPlan): CompleteAction[] {
  // A later drop_column of the column drops the shadow, its constraints and indexes with it.
  if (!p.tableModel.columns.includes(p.column)) return [swapDrop(p.schema, p.table, p.oldPhysical)];
  const t = (clause: string, description: string) => alterTable(p.schema, p.table, clause, 'ACCESS EXCLUSIVE', description);
  const actions: CompleteAction[] = [];
  const nn = notNullCheckName(p.shadow);
  if (p.notNull) actions.push(validateConstraint(p.schema, p.table, nn));
  if (p.check) actions.push(validateConstraint(p.schema, p.table, p.check.name));
  if (p.references) actions.push(validateConstraint(p.schema, p.table, p.references.name));

  // The swap: ALTER TABLE … DROP COLUMN <old column>, then RENAME COLUMN <shadow> TO <final name>,
  // composed with the table's other columns' in src/operations/column-swap.ts. What follows runs
  // after it, under the column's final name.
  actions.push(swapDrop(p.schema, p.table, p.oldPhysical), ...swapRename(p.schema, p.table, p.shadow, p.column.name));
  if (p.unique) actions.push(t(`ADD CONSTRAINT ${ident(p.unique.name)} UNIQUE USING INDEX ${ident(fitName(`_tandem_${p.unique.name}`))}`, `unique constraint ${p.unique.name}`));
  if (p.notNull) {
    // The validated check lets SET NOT NULL skip its full-table scan.
    actions.push(t(`ALTER COLUMN ${ident(p.column.name)} SET NOT NULL`, `set NOT NULL on ${p.column.name}`));
    actions.push(t(`DROP CONSTRAINT ${ident(nn)}`, 'drop the helper check'));
  }
  return actions;
}

/** Dropping the shadow drops its default, copies of indexes and constraints with it. */
function shadowRollback(p: ShadowPlan): Action[] {
  return [alterTable(p.schema, p.table, `DROP COLUMN IF EXISTS ${ident(p.shadow)}`, 'ACCESS EXCLUSIVE', `drop shadow column ${p.shadow}`)];
}

function concurrentBuild(schema: string, table: string) {
  return (name: string, sql: string, description: string): Action => ({
    sql,
    lock: 'SHARE UPDATE EXCLUSIVE',
    table: qualified(schema, table),
    transactional: false,
    description,
    concurrentIndex: { schema, name },
  });
}

/** Constraint copies go in the expand transaction (NOT VALID); index copies are built concurrently. */
export function duplicatesStart(schema: string, table: string, dups: Duplicate[]): Action[] {
  const concurrent = concurrentBuild(schema, table);
  return dups.map((d) =>
    d.kind === 'check' || d.kind === 'foreign-key'
      ? alterTable(schema, table, `ADD CONSTRAINT ${ident(d.temporary)} ${d.sql} NOT VALID`, 'ACCESS EXCLUSIVE', `copy of ${d.name} on the shadow columns`)
      : concurrent(d.temporary, d.sql, `copy of index ${d.name} on the shadow columns, concurrently`),
  );
}

export function duplicatesComplete(schema: string, table: string, dups: Duplicate[]): Action[] {
  const t = (clause: string, description: string) => alterTable(schema, table, clause, 'ACCESS EXCLUSIVE', description);
  const actions: Action[] = [];
  for (const d of dups) if (d.kind === 'check' || d.kind === 'foreign-key') actions.push(validateConstraint(schema, table, d.temporary));
  for (const d of dups) {
    if (d.kind === 'index')
      actions.push({ ...t('', ''), sql: `ALTER INDEX ${qualified(schema, d.temporary)} RENAME TO ${ident(d.name)}`, description: `index ${d.name} back under its name` });
    if (d.kind === 'unique-constraint')
      actions.push(t(`ADD CONSTRAINT ${ident(d.name)} UNIQUE USING INDEX ${ident(d.temporary)}`, `unique constraint ${d.name} from its copied index`));
    if (d.kind === 'check' || d.kind === 'foreign-key') actions.push(t(`RENAME CONSTRAINT ${ident(d.temporary)} TO ${ident(d.name)}`, `constraint ${d.name} back under its name`));
  }
  return actions;
}
