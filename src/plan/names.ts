import { createHash } from 'node:crypto';
import { MAX_IDENTIFIER_BYTES } from '../sql/ident.js';

/** The longest prefix of `name` of at most `maxBytes` bytes in UTF-8, cut between characters. */
export function truncateToBytes(name: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of name) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return name.slice(0, end);
}

/**
 * Names of the objects Tandem creates. All fit PostgreSQL's 63-byte identifier limit: a longer
 * one keeps its head (cut on a character boundary, never inside a multibyte character or a
 * surrogate pair) and gets a hash of the whole name, so two long names stay distinct.
 */
export function fitName(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  return `${truncateToBytes(name, MAX_IDENTIFIER_BYTES - hash.length - 1)}_${hash}`;
}

export const MARKER_COLUMN = '_tandem_synced';

export function shadowColumn(finalName: string): string {
  return fitName(`_tandem_new_${finalName}`);
}

export function notNullCheckName(column: string): string {
  return fitName(`_tandem_not_null_${column}`);
}

export function triggerName(versionSchema: string): string {
  return fitName(`_tandem_sync_${versionSchema}`);
}

export function triggerFunctionName(table: string, versionSchema: string): string {
  return fitName(`sync_${versionSchema}_${table}`);
}

export function versionSchemaName(schema: string, version: string): string {
  return `${schema}_${version}`;
}
