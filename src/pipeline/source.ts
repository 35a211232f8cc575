import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Migration } from '../migration/schema.js';
import type { MigrationSource } from '../state/store.js';
import { sha256Hex } from './checksum.js';

/**
 * The history's record of a migration started from a file (`tandem start <file>`): its name and
 * the sha256 of its bytes, read again here (the loader keeps no bytes). A file that cannot be read
 * any more is recorded without them; `migrate` then compares the migration's content instead.
 */
export async function fileSourceOf(migration: Migration): Promise<MigrationSource | undefined> {
  if (migration.file === undefined) return undefined;
  try {
    return { fileName: path.basename(migration.file), fileChecksum: sha256Hex(await readFile(migration.file)) };
  } catch {
    return { fileName: path.basename(migration.file) };
  }
}
