import pg from 'pg';

/**
 * The one place identifiers and literals are quoted. Every schema, table, column, constraint,
 * trigger and function name that reaches SQL goes through `ident` or `qualified`.
 */
export function ident(name: string): string {
  return pg.escapeIdentifier(name);
}

export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

export function literal(value: string): string {
  return pg.escapeLiteral(value);
}

/** PostgreSQL truncates identifiers longer than this many bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

export function identifierFits(name: string): boolean {
  return Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES;
}
