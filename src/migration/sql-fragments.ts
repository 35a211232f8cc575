/**
 * Every SQL fragment of a migration file, checked with PostgreSQL's parser alone (no database):
 * `tandem validate` without a connection, and every command before it connects, refuses a type
 * that carries a clause, an expression that does not parse or is not one expression, an aggregate
 * in `up`, raw SQL with a syntax error… at the exact field. What needs the catalog (does the
 * column exist, is the function an aggregate, is the predicate immutable) is checked by the
 * operations' `validate` and the trials (src/plan/trials.ts).
 */
import type { InputLocation } from '../errors.js';
import {
  checkExclusionElements,
  checkExpressionFragment,
  checkPlainName,
  checkSequenceOptions,
  checkStatementsFragment,
  checkTypeFragment,
  type ExpressionPurpose,
  loadFragmentParser,
  renderStorageParameters,
} from '../sql/fragments.js';
import type { ColumnDef, Migration, Operation } from './schema.js';

type At = (field: string) => InputLocation;

function expression(at: At, field: string, sql: string | null | undefined, purpose: ExpressionPurpose): void {
  if (sql !== undefined && sql !== null) checkExpressionFragment(sql, purpose, at(field));
}

function storage(at: At, field: string, params: { storage_parameters?: string | undefined } | undefined): void {
  if (params?.storage_parameters !== undefined) renderStorageParameters(params.storage_parameters, at(field));
}

function column(at: At, base: string, c: ColumnDef): void {
  checkTypeFragment(c.type, at(`${base}.type`));
  expression(at, `${base}.default`, c.default, 'default');
  if (c.check) expression(at, `${base}.check.constraint`, c.check.constraint, 'check');
  expression(at, `${base}.generated.expression`, c.generated?.expression, 'generated');
  if (c.generated?.identity?.sequence_options !== undefined) checkSequenceOptions(c.generated.identity.sequence_options, at(`${base}.generated.identity.sequence_options`));
}

function perColumn(at: At, field: string, map: Record<string, string> | undefined): void {
  for (const [name, sql] of Object.entries(map ?? {})) expression(at, `${field}.${name}`, sql, 'value');
}

function operation(op: Operation, at: At): void {
  switch (op.kind) {
    case 'create_table':
      op.body.columns.forEach((c, i) => column(at, `columns[${i}]`, c));
      (op.body.constraints ?? []).forEach((c, i) => {
        const base = `constraints[${i}]`;
        if (c.type === 'check') expression(at, `${base}.check`, c.check, 'check');
        if (c.exclude?.index_method !== undefined) checkPlainName(c.exclude.index_method, at(`${base}.exclude.index_method`), 'index method');
        expression(at, `${base}.exclude.predicate`, c.exclude?.predicate, 'predicate');
        if (c.exclude?.elements !== undefined) checkExclusionElements(c.exclude.elements, at(`${base}.exclude.elements`));
        storage(at, `${base}.index_parameters.storage_parameters`, c.index_parameters);
      });
      return;
    case 'add_column':
      column(at, 'column', op.body.column);
      expression(at, 'up', op.body.up, 'value');
      return;
    case 'alter_column':
      if (op.body.type !== undefined) checkTypeFragment(op.body.type, at('type'));
      expression(at, 'default', op.body.default, 'default');
      if (op.body.check) expression(at, 'check.constraint', op.body.check.constraint, 'check');
      expression(at, 'up', op.body.up, 'value');
      expression(at, 'down', op.body.down, 'value');
      return;
    case 'drop_column':
      expression(at, 'down', op.body.down, 'value');
      return;
    case 'create_index':
      op.body.columns.forEach((c, i) => {
        if (c.opclass?.params?.length) renderStorageParameters(c.opclass.params.join(', '), at(`columns[${i}].opclass.params`));
      });
      storage(at, 'storage_parameters', op.body);
      expression(at, 'predicate', op.body.predicate, 'predicate');
      return;
    case 'create_constraint':
      if (op.body.type === 'check') expression(at, 'check', op.body.check, 'check');
      storage(at, 'index_parameters.storage_parameters', op.body.index_parameters);
      perColumn(at, 'up', op.body.up);
      perColumn(at, 'down', op.body.down);
      return;
    case 'drop_constraint':
      expression(at, 'up', op.body.up, 'value');
      expression(at, 'down', op.body.down, 'value');
      return;
    case 'drop_multicolumn_constraint':
      perColumn(at, 'up', op.body.up);
      perColumn(at, 'down', op.body.down);
      return;
    case 'sql':
      checkStatementsFragment(op.body.up, at('up'));
      if (op.body.down !== undefined) checkStatementsFragment(op.body.down, at('down'));
      return;
    default:
      return;
  }
}

/** Check every SQL fragment of `migration` with the parser; the first bad one is exit 2 at its field. */
export async function checkMigrationFragments(migration: Migration): Promise<void> {
  await loadFragmentParser();
  migration.operations.forEach((op, index) => {
    const at: At = (field) => ({ ...(migration.file !== undefined ? { file: migration.file } : {}), operationIndex: index, operation: op.kind, field });
    operation(op, at);
  });
}
