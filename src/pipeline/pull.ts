import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { formatOf, type MigrationFormat } from '../migration/load.js';
import { compareFileNames, type DirectoryMigration, isMigrationFileName, readMigrationDirectory } from './directory.js';
import { DirectoryError } from './errors.js';
import { type HistoryEntry, isLive, readHistory } from './history-store.js';
import { renderMigrationFile } from './render.js';

export interface PullResult {
  directory: string;
  written: { file: string; migration: string }[];
}

/** The directory's style: the extension most of its migration files have (.yaml when it has none). */
export function directoryExtension(fileNames: string[]): string {
  const counts = new Map<string, number>();
  for (const f of fileNames) counts.set(path.extname(f).toLowerCase(), (counts.get(path.extname(f).toLowerCase()) ?? 0) + 1);
  let best = '.yaml';
  let bestCount = 0;
  for (const ext of ['.yaml', '.yml', '.json']) {
    if ((counts.get(ext) ?? 0) > bestCount) [best, bestCount] = [ext, counts.get(ext)!];
  }
  return best;
}

/** One history row to write, and the name of the file it gets. */
export interface PullFile {
  entry: HistoryEntry;
  fileName: string;
}

/**
 * Names for the applied migrations that no file gives, such that the directory's file-name order
 * is the history's order: the name recorded when it was applied if it fits between its
 * neighbours, else the migration's name, else the previous file's name without its extension and
 * `_` (which sorts after that file). Pure; refuses (nothing written) when no name fits.
 */
export function pullNames(history: HistoryEntry[], files: DirectoryMigration[], existing: Set<string>, extension: string): PullFile[] {
  const byName = new Map(files.map((f) => [f.name, f.fileName]));
  const ordered = history.filter((e) => isLive(e) && !e.baseline);
  const chosen: PullFile[] = [];
  const taken = new Set(existing);
  let previous: string | undefined;
  ordered.forEach((entry, i) => {
    const own = byName.get(entry.name);
    if (own !== undefined) {
      previous = own;
      return;
    }
    const next = ordered.slice(i + 1).find((e) => byName.has(e.name));
    const upper = next ? byName.get(next.name) : undefined;
    const fits = (candidate: string) =>
      !taken.has(candidate) && (previous === undefined || compareFileNames(previous, candidate) < 0) && (upper === undefined || compareFileNames(candidate, upper) < 0);
    const candidates = [
      ...(entry.fileName !== null ? [entry.fileName] : []),
      `${entry.name}${extension}`,
      ...(previous !== undefined ? [`${path.basename(previous, path.extname(previous))}_${entry.name}${extension}`] : []),
    ].filter(isMigrationFileName);
    const fileName = candidates.find(fits);
    if (fileName === undefined) {
      throw new DirectoryError(
        `no file name for migration "${entry.name}" sorts between ${previous ?? '(the start)'} and ${upper ?? '(the end)'}, where it belongs in the history`,
        'rename the files around it so that there is room (e.g. number them with gaps), then pull again; nothing was written',
        'out-of-order',
        { migration: entry.name, after: previous ?? null, before: upper ?? null },
      );
    }
    taken.add(fileName);
    chosen.push({ entry, fileName });
    previous = fileName;
  });
  return chosen;
}

/**
 * `tandem pull <dir>`: the history's applied migrations (baselines aside: they have no
 * operations) that no file of the directory gives, written as the stored migration document. The
 * database is only read. A file is never overwritten: each is created exclusively (`wx`).
 */
export async function pull(client: pg.Client, dir: string, schema: string): Promise<PullResult> {
  await mkdir(dir, { recursive: true });
  const files = await readMigrationDirectory(dir);
  const existing = new Set(await readdir(dir));
  const extension = directoryExtension(files.map((f) => f.fileName));
  const toWrite = pullNames(await readHistory(client, schema), files, existing, extension);
  const written: PullResult['written'] = [];
  for (const { entry, fileName } of toWrite) {
    const format: MigrationFormat = formatOf(fileName);
    const file = path.join(dir, fileName);
    try {
      await writeFile(file, renderMigrationFile(entry.migration, format), { flag: 'wx' });
    } catch (err) {
      throw new DirectoryError(`cannot write ${file}: ${(err as Error).message}`, 'nothing is overwritten: move that file away, then pull again', 'invalid-directory', {
        file,
        written,
      });
    }
    written.push({ file, migration: entry.name });
  }
  return { directory: dir, written };
}
