import { scanSync } from 'libpg-query';
import { ident, MAX_IDENTIFIER_BYTES } from '../sql/ident.js';

/**
 * An identifier as it reads best inside a user-editable SQL expression (`up`/`down`): bare when
 * PostgreSQL would read it back unchanged, quoted through the one quoting helper otherwise.
 * (The parser must be loaded: see loadParser.)
 */
export function sqlName(name: string): string {
  if (!/^[a-z_][a-z0-9_$]*$/.test(name)) return ident(name);
  const tok = scanSync(name).tokens?.[0];
  // 0: not a keyword, 1: unreserved keyword; column-name, type-function and reserved keywords need quotes.
  return tok && tok.keywordKind <= 1 ? name : ident(name);
}

/**
 * The name PostgreSQL chooses for an unnamed constraint or index (makeObjectName): `name1_name2_label`,
 * with the longer of name1/name2 shortened until it fits in 63 bytes. Collisions (PostgreSQL then
 * appends a number) are not predicted.
 */
export function defaultObjectName(name1: string, name2: string | undefined, label: string): string {
  let a = [...name1];
  let b = name2 ? [...name2] : [];
  const overhead = label.length + 1 + (name2 ? 1 : 0);
  const fits = () => Buffer.byteLength(a.join('') + b.join(''), 'utf8') + overhead <= MAX_IDENTIFIER_BYTES;
  while (!fits()) {
    if (a.length > b.length) a = a.slice(0, -1);
    else b = b.slice(0, -1);
  }
  return [a.join(''), ...(name2 ? [b.join('')] : []), label].join('_');
}

export const defaultNames = {
  primaryKey: (table: string) => defaultObjectName(table, undefined, 'pkey'),
  unique: (table: string, columns: string[]) => defaultObjectName(table, columns.join('_'), 'key'),
  foreignKey: (table: string, columns: string[]) => defaultObjectName(table, columns.join('_'), 'fkey'),
  /** One referenced column: table_col_check; else table_check (as PostgreSQL decides). */
  check: (table: string, columns: string[]) => defaultObjectName(table, columns.length === 1 ? columns[0] : undefined, 'check'),
  index: (table: string, columns: string[]) => defaultObjectName(table, columns.join('_'), 'idx'),
};
