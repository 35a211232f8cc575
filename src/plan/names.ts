import { createHash } from 'node:crypto';
import { MAX_IDENTIFIER_BYTES } from '../sql/ident.js';

/** Names of the objects Tandem creates. All fit PostgreSQL's 63-byte identifier limit. */
export function fitName(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  let head = name;
  while (Buffer.byteLength(head, 'utf8') > MAX_IDENTIFIER_BYTES - 9) head = head.slice(0, -1);
  return `${head}_${hash}`;
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
