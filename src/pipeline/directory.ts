import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';
import { formatOf, MIGRATION_LIMITS, parseMigrationText } from '../migration/load.js';
import type { Migration } from '../migration/schema.js';
import { checkMigrationFragments } from '../migration/sql-fragments.js';
import { sha256Hex } from './checksum.js';
import { DirectoryError } from './errors.js';

/** One migration file of a directory, as `migrate`, `plan <dir>` and `rehearse <dir>` read it. */
export interface DirectoryMigration {
  /** Path of the file (the directory joined with its name). */
  file: string;
  /** The file's name in the directory, e.g. `0042_users.yaml`: the sort key. */
  fileName: string;
  /** The migration's name: its `name` field, else the file name without extension. */
  name: string;
  /** sha256 (hex) of the file's bytes, exactly as read: the history's drift check compares it. */
  checksum: string;
  migration: Migration;
}

/** Extensions of migration files; anything else in the directory (README.md, .gitkeep…) is ignored. */
export const MIGRATION_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

export function isMigrationFileName(fileName: string): boolean {
  return !fileName.startsWith('.') && (MIGRATION_EXTENSIONS as readonly string[]).includes(path.extname(fileName).toLowerCase());
}

/**
 * File-name order: by UTF-16 code unit (JavaScript's default string order, the same as byte order
 * for ASCII names), never by locale, so every machine and CI runner agrees on it. Name files with
 * a fixed-width number prefix (`0001_…`) so that this order is the order they were written in.
 */
export function compareFileNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Every migration file of `dir` (not its subdirectories), parsed and checked as `loadMigrationFile`
 * checks one, sorted by file name. Each file is read once: its checksum is of the same bytes that
 * were parsed. A bad file is an InvalidInputError naming the file; two files giving the same
 * migration name are a DirectoryError (`duplicate-migration-name`), both exit 2.
 */
export async function readMigrationDirectory(dir: string): Promise<DirectoryMigration[]> {
  const fileNames = (await listMigrationFiles(dir)).sort(compareFileNames);
  const migrations = await Promise.all(fileNames.map((fileName) => readDirectoryFile(dir, fileName)));
  checkUniqueNames(migrations);
  return migrations;
}

async function listMigrationFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new DirectoryError(`cannot read the migration directory ${dir}: ${(err as Error).message}`, 'pass the directory that holds the migration files', 'invalid-directory');
  }
  // Symbolic links to files count as files.
  const names: string[] = [];
  for (const e of entries) {
    if (!isMigrationFileName(e.name)) continue;
    if (e.isFile() || (e.isSymbolicLink() && (await stat(path.join(dir, e.name)).catch(() => undefined))?.isFile())) names.push(e.name);
  }
  return names;
}

/** One file: its bytes once, the checksum of those bytes, then the loader's parse and fragment checks. */
export async function readDirectoryFile(dir: string, fileName: string): Promise<DirectoryMigration> {
  const file = path.join(dir, fileName);
  let bytes: Buffer;
  try {
    const size = (await stat(file)).size;
    if (size > MIGRATION_LIMITS.maxFileBytes) {
      throw new InvalidInputError(`the file is ${size} bytes, more than the limit of ${MIGRATION_LIMITS.maxFileBytes} bytes`, { file }, 'split it into several migrations', {
        code: 'limit-exceeded',
      });
    }
    bytes = await readFile(file);
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`cannot read the file: ${(err as Error).message}`, { file }, undefined, { cause: err, code: 'invalid-file' });
  }
  const migration = parseMigrationText(bytes.toString('utf8'), file, formatOf(file));
  await checkMigrationFragments(migration);
  return { file, fileName, name: migration.name, checksum: sha256Hex(bytes), migration };
}

/** Two files with one migration name would be one migration in the history: refused, naming both. */
export function checkUniqueNames(migrations: readonly DirectoryMigration[]): void {
  const byName = new Map<string, DirectoryMigration>();
  for (const m of migrations) {
    const first = byName.get(m.name);
    if (first) {
      throw new DirectoryError(
        `${first.fileName} and ${m.fileName} both give the migration name "${m.name}"`,
        'every migration needs its own name: change the `name` field (or the file name, when the file has no `name`) of one of them',
        'duplicate-migration-name',
        { name: m.name, files: [first.fileName, m.fileName] },
      );
    }
    byName.set(m.name, m);
  }
}
