/**
 * Checks that several operations share, run by their `validate`: foreign-key targets against the
 * catalog (or the tables this migration creates), and the trials of a new index on an empty
 * temporary table of the same shape (collations, operator classes, storage parameters, predicate
 * immutability), inside the rolled-back validation transaction.
 */
import type { CatalogTable } from '../catalog/read.js';
import type { ColumnDef, OperationBody, TableConstraintDef } from '../migration/schema.js';
import type { VTable } from '../model/virtual-schema.js';
import { checkExclusionElements, checkExpressionFragment, checkPlainName, checkSequenceOptions, checkTypeFragment, renderStorageParameters } from '../sql/fragments.js';
import { ident, qualified } from '../sql/ident.js';
import type { OpContext } from './context.js';

type CreateTableBody = OperationBody<'create_table'>;

/** Column lists of the unique, non-partial, non-deferrable indexes a foreign key can reference. */
function referenceableKeys(table: Pick<CatalogTable, 'indexes' | 'constraints'>): string[][] {
  const deferrable = new Set(table.constraints.filter((c) => /\bDEFERRABLE\b/.test(c.definition) && !/\bNOT DEFERRABLE\b/.test(c.definition)).map((c) => c.name));
  return table.indexes.filter((i) => i.unique && i.valid && !i.partial && !i.expression && !deferrable.has(i.name)).map((i) => i.columns);
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** What a foreign key may point at: a table of the schema, or one created earlier in the migration. */
function referencedTable(ctx: OpContext, name: string): { columns: string[]; keys: string[][] } | undefined {
  const created = ctx.createdTables.get(name);
  if (created) return created;
  const cat = ctx.catalog.get(name);
  return cat ? { columns: cat.columns.map((c) => c.name), keys: referenceableKeys(cat) } : undefined;
}

/**
 * The referenced table must exist and the referenced columns must be exactly a primary key or a
 * unique key of it (PostgreSQL fails with 42830 otherwise, at start, after changes were made).
 * `columnField(i)` names the field of the i-th referenced column.
 */
export function requireReferencedKey(ctx: OpContext, table: string, columns: string[], field: string, columnField: (i: number) => string): void {
  const target = referencedTable(ctx, table);
  if (!target) {
    ctx.fail(
      `the referenced table "${table}" does not exist in schema "${ctx.schema}"`,
      `${field}.table`,
      'create it first (in this migration or an earlier one)',
      'referenced-table-not-found',
    );
  }
  columns.forEach((c, i) => {
    if (!target.columns.includes(c))
      ctx.fail(`column "${c}" does not exist in the referenced table "${table}"`, columnField(i), `columns: ${target.columns.join(', ')}`, 'column-not-found');
  });
  if (!target.keys.some((k) => sameSet(k, columns))) {
    ctx.fail(
      `(${columns.join(', ')}) is not a primary key or unique key of "${table}": a foreign key must reference one`,
      columns.length === 1 ? columnField(0) : `${field}.columns`,
      'reference the primary key, or create a unique constraint on those columns first (in an earlier migration)',
      'referenced-key-not-unique',
    );
  }
}

/**
 * Types: the foreign key is created for real between two empty temporary tables, a copy of the
 * referenced table (with its indexes) and one with the referencing columns' types, so PostgreSQL
 * says whether the types can be compared (42804 otherwise, at start). For add_column,
 * alter_column and create_constraint; a create_table is tried whole.
 */
export function pushForeignKeyTrial(ctx: OpContext, table: string, columns: string[], sourceTypes: string[], field: string, columnsField: string): void {
  const base = { scope: 'none' as const, operationIndex: ctx.index, operation: ctx.operation, group: `fk-trial-${ctx.index}`, skipGroupOn: ['42501'] };
  const copy = ident(`_tandem_trial_ref_${ctx.index}`);
  const referencing = sourceTypes.map((t, i) => `${ident(`c${i}`)} ${t}`).join(', ');
  ctx.checks.push({ ...base, kind: 'statement', field: `${field}.table`, sql: `CREATE TEMPORARY TABLE ${copy} (LIKE ${qualified(ctx.schema, table)} INCLUDING INDEXES)` });
  ctx.checks.push({
    ...base,
    kind: 'statement',
    field: columnsField,
    sql: `CREATE TEMPORARY TABLE ${ident(`_tandem_trial_fk_${ctx.index}`)} (${referencing}, FOREIGN KEY (${sourceTypes.map((_, i) => ident(`c${i}`)).join(', ')}) REFERENCES pg_temp.${copy} (${columns.map(ident).join(', ')}))`,
    classify: (sqlstate, message) => (sqlstate === '42804' ? { code: 'invalid-field', problem: `the foreign key cannot be created: ${message}` } : undefined),
  });
}

/** The keys of a table being created: its primary key and unique columns and constraints. */
export function keysOfNewTable(columns: ColumnDef[], constraints: TableConstraintDef[]): string[][] {
  const keys: string[][] = [];
  const pk = columns.filter((c) => c.pk).map((c) => c.name);
  if (pk.length) keys.push(pk);
  for (const c of columns) if (c.unique) keys.push([c.name]);
  for (const c of constraints) if ((c.type === 'primary_key' || c.type === 'unique') && !c.deferrable && c.columns?.length) keys.push(c.columns);
  return keys;
}

/** Storage parameters as safe SQL, or exit 2 at `field` when they are not `name = value` pairs. */
export function safeStorageParameters(ctx: OpContext, text: string | undefined, field: string): string | undefined {
  return text === undefined ? undefined : renderStorageParameters(text, ctx.at(field));
}

export interface IndexTrial {
  table: VTable;
  method: string;
  unique: boolean;
  /** Physical column, collation, operator class (with its parameters already rendered safe), sort, nulls. */
  elements: {
    column: string;
    collate?: string | undefined;
    opclass?: string | undefined;
    opclassParams?: string | undefined;
    sort?: string | undefined;
    nulls?: string | undefined;
  }[];
  storageParameters?: string | undefined;
  predicate?: string | undefined;
}

function elementSql(e: IndexTrial['elements'][number]): string {
  let sql = ident(e.column);
  if (e.collate) sql += ` COLLATE ${ident(e.collate)}`;
  if (e.opclass) sql += ` ${ident(e.opclass)}${e.opclassParams ? ` (${e.opclassParams})` : ''}`;
  if (e.sort) sql += ` ${e.sort}`;
  if (e.nulls) sql += ` NULLS ${e.nulls}`;
  return sql;
}

/**
 * The index is built, for real, on an empty temporary table with the columns (and types) the
 * table has at this point of the migration: PostgreSQL itself then checks the collations,
 * operator classes and their parameters, the storage parameters, and that the predicate is a
 * boolean of IMMUTABLE functions and operators only. All inside the rolled-back transaction.
 */
export function pushIndexTrials(ctx: OpContext, index: IndexTrial): void {
  if (index.predicate !== undefined) checkExpressionFragment(index.predicate, 'predicate', ctx.at('predicate'));
  const base = { scope: 'none' as const, operationIndex: ctx.index, operation: ctx.operation };
  const group = `index-trial-${ctx.index}`;
  const push = (field: string, sql: string, extra: Partial<Parameters<OpContext['checks']['push']>[0]> = {}) =>
    ctx.checks.push({ ...base, kind: 'statement', sql, field, group, ...extra });
  index.elements.forEach((e, i) => {
    if (e.collate) {
      push(`columns[${i}].collate`, 'SELECT to_regcollation($1) IS NOT NULL AS found', {
        kind: 'lookup',
        params: [ident(e.collate)],
        missing: { problem: `collation "${e.collate}" does not exist`, code: 'collation-not-found', hint: 'SELECT collname FROM pg_collation lists the collations' },
      });
    }
    if (e.opclass) {
      push(
        `columns[${i}].opclass.name`,
        'SELECT EXISTS (SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod WHERE oc.opcname = $1 AND am.amname = $2 AND pg_opclass_is_visible(oc.oid)) AS found',
        {
          kind: 'lookup',
          params: [e.opclass, index.method],
          missing: {
            problem: `operator class "${e.opclass}" does not exist for index method "${index.method}"`,
            code: 'opclass-not-found',
            hint: `SELECT opcname FROM pg_opclass JOIN pg_am ON pg_am.oid = opcmethod WHERE amname = '${index.method}' lists them`,
          },
        },
      );
    }
  });
  const temp = ident(`_tandem_trial_index_${ctx.index}`);
  // Without the TEMP privilege on the database (42501) the rest of the index trials are skipped.
  push('table', `CREATE TEMPORARY TABLE ${temp} (${index.table.columns.map((c) => `${ident(c.physical)} ${c.type}`).join(', ')})`, { group, skipGroupOn: ['42501'] });
  const create = (elements: IndexTrial['elements'], tail = '') =>
    `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ON pg_temp.${temp} USING ${index.method} (${elements.map(elementSql).join(', ')})${tail}`;
  const invalid = (_: string | undefined, message: string) => ({ code: 'invalid-field' as const, problem: `the index cannot be built: ${message}` });
  index.elements.forEach((e, i) => {
    if (e.collate || e.opclass) push(`columns[${i}]`, create([e]), { classify: invalid });
  });
  push('columns', create(index.elements), { classify: invalid });
  if (index.storageParameters)
    push('storage_parameters', create(index.elements, ` WITH (${index.storageParameters})`), {
      classify: (_, message) => ({ code: 'invalid-storage-parameter', problem: `invalid storage parameters: ${message}` }),
    });
  if (index.predicate !== undefined) {
    push('predicate', create(index.elements, ` WHERE (${index.predicate})`), {
      classify: (sqlstate, message) =>
        sqlstate === '42P17'
          ? { code: 'not-immutable', problem: `the predicate may use only IMMUTABLE functions and operators (${message})` }
          : sqlstate === '42804'
            ? { code: 'not-boolean' }
            : sqlstate === '0A000' && /set-returning/i.test(message)
              ? { code: 'set-returning-not-allowed' }
              : sqlstate === '42803'
                ? { code: 'aggregate-not-allowed' }
                : { code: 'invalid-sql' },
    });
  }
}

const serialAliases: Record<string, string> = { serial: 'integer', serial4: 'integer', bigserial: 'bigint', serial8: 'bigint', smallserial: 'smallint', serial2: 'smallint' };

/** The type a column has once created: a serial is an integer filled from a sequence. */
function createdType(type: string): { type: string; serial: boolean } {
  const alias = serialAliases[type.trim().toLowerCase()];
  return alias ? { type: alias, serial: true } : { type, serial: false };
}

/**
 * Every SQL fragment of a create_table, checked where it is (`columns[2].check.constraint`,
 * `constraints[0].references.table`…) before the whole CREATE TABLE is tried: types, defaults,
 * checks over the new table's columns, generated expressions, foreign-key targets (the table
 * itself included), storage parameters and exclusion methods. Returns the body with its storage
 * parameters rendered safe, and records the table's keys for later foreign keys to it.
 */
export function checkNewTableFragments(ctx: OpContext, body: CreateTableBody): CreateTableBody {
  const columns = body.columns.map((c) => ({ name: c.name, type: createdType(c.type).type }));
  const constraints = body.constraints ?? [];
  ctx.createdTables.set(body.name, { columns: body.columns.map((c) => c.name), keys: keysOfNewTable(body.columns, constraints) });
  body.columns.forEach((c, i) => {
    const { serial } = createdType(c.type);
    if (serial) checkTypeFragment(c.type, ctx.at(`columns[${i}].type`));
    else ctx.checkType(c.type, `columns[${i}].type`);
  });
  body.columns.forEach((c, i) => {
    const field = `columns[${i}]`;
    if (c.default !== undefined && c.default !== null && !createdType(c.type).serial) ctx.checkExpression(c.default, 'none', undefined, c.type, `${field}.default`);
    if (c.generated?.expression !== undefined) checkExpressionFragment(c.generated.expression, 'generated', ctx.at(`${field}.generated.expression`));
    if (c.generated?.identity?.sequence_options !== undefined) checkSequenceOptions(c.generated.identity.sequence_options, ctx.at(`${field}.generated.identity.sequence_options`));
    if (c.check) ctx.checkCondition(c.check.constraint, undefined, `${field}.check.constraint`, columns);
    if (c.references) requireReferencedKey(ctx, c.references.table, [c.references.column], `${field}.references`, () => `${field}.references.column`);
  });
  const safeConstraints = constraints.map((c, i) => {
    const field = `constraints[${i}]`;
    if (c.type === 'check' && c.check) ctx.checkCondition(c.check, undefined, `${field}.check`, columns);
    if (c.type === 'foreign_key' && c.references) {
      requireReferencedKey(ctx, c.references.table, c.references.columns, `${field}.references`, (k) => `${field}.references.columns[${k}]`);
    }
    if (c.exclude?.index_method !== undefined) checkPlainName(c.exclude.index_method, ctx.at(`${field}.exclude.index_method`), 'index method');
    if (c.exclude?.predicate !== undefined) checkExpressionFragment(c.exclude.predicate, 'predicate', ctx.at(`${field}.exclude.predicate`));
    if (c.exclude?.elements !== undefined) checkExclusionElements(c.exclude.elements, ctx.at(`${field}.exclude.elements`));
    const storage = safeStorageParameters(ctx, c.index_parameters?.storage_parameters, `${field}.index_parameters.storage_parameters`);
    return storage === undefined ? c : { ...c, index_parameters: { ...c.index_parameters, storage_parameters: storage } };
  });
  return body.constraints === undefined ? body : { ...body, constraints: safeConstraints };
}
