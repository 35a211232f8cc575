import type { CheckDef, ColumnDef, ForeignKeyDef, TableConstraintDef } from '../migration/schema.js';
import { ident, qualified } from '../sql/ident.js';

/** Column definition for CREATE TABLE / ADD COLUMN. pgroll's default: NOT NULL unless `nullable`. */
export function columnDefinition(schema: string, col: ColumnDef, opts: { withDefault: boolean; withNotNull: boolean }): string {
  const parts = [ident(col.name), col.type];
  if (col.generated?.expression) parts.push(`GENERATED ALWAYS AS (${col.generated.expression}) STORED`);
  if (col.generated?.identity) {
    const id = col.generated.identity;
    parts.push(`GENERATED ${id.user_specified_values ?? 'ALWAYS'} AS IDENTITY${id.sequence_options ? ` (${id.sequence_options})` : ''}`);
  }
  if (opts.withDefault && col.default !== undefined && col.default !== null) parts.push(`DEFAULT ${col.default}`);
  if (opts.withNotNull && col.nullable !== true) parts.push('NOT NULL');
  if (col.unique) parts.push('UNIQUE');
  if (col.check) parts.push(checkClause(col.check));
  if (col.references) parts.push(referencesClause(schema, col.references));
  return parts.join(' ');
}

export function checkClause(check: CheckDef): string {
  return `CONSTRAINT ${ident(check.name)} CHECK (${check.constraint})${check.no_inherit ? ' NO INHERIT' : ''}`;
}

export function referencesClause(schema: string, ref: ForeignKeyDef): string {
  let sql = `CONSTRAINT ${ident(ref.name)} REFERENCES ${qualified(schema, ref.table)} (${ident(ref.column)})`;
  if (ref.match_type) sql += ` MATCH ${ref.match_type}`;
  if (ref.on_delete) {
    sql += ` ON DELETE ${ref.on_delete}`;
    if (ref.on_delete_set_columns?.length) sql += ` (${ref.on_delete_set_columns.map(ident).join(', ')})`;
  }
  if (ref.on_update) sql += ` ON UPDATE ${ref.on_update}`;
  if (ref.deferrable) sql += ' DEFERRABLE';
  if (ref.initially_deferred) sql += ' INITIALLY DEFERRED';
  return sql;
}

export function tableConstraintClause(schema: string, c: TableConstraintDef): string {
  const cols = (c.columns ?? []).map(ident).join(', ');
  const idxParams = (() => {
    const p = c.index_parameters;
    if (!p) return '';
    let s = '';
    if (p.include_columns?.length) s += ` INCLUDE (${p.include_columns.map(ident).join(', ')})`;
    if (p.storage_parameters) s += ` WITH (${p.storage_parameters})`;
    if (p.tablespace) s += ` USING INDEX TABLESPACE ${ident(p.tablespace)}`;
    return s;
  })();
  let body: string;
  switch (c.type) {
    case 'unique':
      body = `UNIQUE${c.nulls_not_distinct ? ' NULLS NOT DISTINCT' : ''} (${cols})${idxParams}`;
      break;
    case 'primary_key':
      body = `PRIMARY KEY (${cols})${idxParams}`;
      break;
    case 'check':
      body = `CHECK (${c.check ?? ''})${c.no_inherit ? ' NO INHERIT' : ''}`;
      break;
    case 'foreign_key': {
      const r = c.references!;
      body = `FOREIGN KEY (${cols}) REFERENCES ${qualified(schema, r.table)} (${r.columns.map(ident).join(', ')})`;
      if (r.match_type) body += ` MATCH ${r.match_type}`;
      if (r.on_delete) {
        body += ` ON DELETE ${r.on_delete}`;
        if (r.on_delete_set_columns?.length) body += ` (${r.on_delete_set_columns.map(ident).join(', ')})`;
      }
      if (r.on_update) body += ` ON UPDATE ${r.on_update}`;
      break;
    }
    case 'exclude': {
      const e = c.exclude ?? {};
      body = `EXCLUDE USING ${e.index_method ?? 'gist'} (${e.elements ?? ''})${idxParams}${e.predicate ? ` WHERE (${e.predicate})` : ''}`;
      break;
    }
  }
  if (c.type !== 'check') {
    if (c.deferrable) body += ' DEFERRABLE';
    if (c.initially_deferred) body += ' INITIALLY DEFERRED';
  }
  return `CONSTRAINT ${ident(c.name)} ${body}`;
}
