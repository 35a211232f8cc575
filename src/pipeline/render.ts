import YAML from 'yaml';
import type { MigrationFormat } from '../migration/load.js';
import { sha256Hex } from './checksum.js';

/**
 * The file `tandem pull` writes for a stored migration document. Deterministic (no date, the
 * document's keys in the order the history returns them, top-level fields first), so that
 * `migrate` recognises a pulled file by rendering the stored document again: its bytes are not
 * the ones first applied, but they are exactly what pull writes for that history row.
 */
export function renderMigrationFile(document: unknown, format: MigrationFormat): string {
  const doc = orderTopLevel(document);
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  const name = typeof doc['name'] === 'string' ? doc['name'] : '';
  return `# Written by \`tandem pull\` from the migration history: migration ${name}.\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}

export function renderedChecksum(document: unknown, format: MigrationFormat): string {
  return sha256Hex(renderMigrationFile(document, format));
}

function orderTopLevel(document: unknown): Record<string, unknown> {
  const d = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  const first = ['name', 'version_schema', 'operations'].filter((k) => d[k] !== undefined);
  return Object.fromEntries([...first.map((k) => [k, d[k]]), ...Object.entries(d).filter(([k]) => !first.includes(k))]);
}
