import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';
import { compareFileNames } from '../pipeline/directory.js';
import { MAX_IDENTIFIER_BYTES } from '../sql/ident.js';
import { type ConvertResult, type ConvertTodo, type ConvertWarning, convertSql, type DroppedStatement, type MigrationPart, type TableModel } from './convert.js';
import { parseSqlFile } from './parse.js';
import { migrationYaml } from './yaml.js';

/**
 * `tandem convert <dir> -o <dir>`: a whole history of SQL migrations, in order, into Tandem
 * migrations. Each file is converted knowing the tables every earlier file left (primary keys for
 * `REFERENCES t`, old types for `down`, nullability, defaults), and split where one migration
 * cannot hold what the SQL did (src/convert/split.ts). Output files are named after their source
 * so that `migrate`'s file-name order is the history's order: `0007_users.yaml`, or
 * `0007_users_01.yaml`, `0007_users_02.yaml`… for a file split in parts.
 */

/** One SQL migration of the history: its path and the stem the output is named after. */
export interface HistorySource {
  file: string;
  stem: string;
}

export interface ConvertedFile {
  source: string;
  fileName: string;
  /** The migration's name (the file name without extension). */
  name: string;
  yaml: string;
  operations: number;
  /** 1-based part of its source, and how many there are. */
  part: number;
  parts: number;
}

export interface HistoryResult {
  files: ConvertedFile[];
  sources: number;
  statements: number;
  warnings: ConvertWarning[];
  todos: (ConvertTodo & { outputFile: string })[];
  dropped: DroppedStatement[];
  /** Sources with nothing to convert (only transaction control or session settings). */
  skipped: { source: string; reason: string }[];
  /** The tables as the whole history leaves them. */
  tables: Map<string, TableModel>;
}

/** Down migrations of tools that keep both directions (golang-migrate's `.down.sql`, dbmate-style). */
const DOWN_FILE = /\.(down|undo)\.sql$/i;

/**
 * The SQL migrations of a directory in the order they apply: `*.sql` files (a `.up.sql` counts,
 * its `.down.sql` does not) and subdirectories holding a `migration.sql` (Prisma's layout), by
 * file-name order of their stems — the order `migrate` gives the output.
 */
export async function listSqlHistory(dir: string): Promise<HistorySource[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new InvalidInputError(`cannot read the directory: ${(err as Error).message}`, { file: dir }, 'pass the directory that holds the SQL migrations', {
      cause: err,
      code: 'invalid-file',
    });
  }
  const sources: HistorySource[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      const inner = path.join(full, 'migration.sql');
      if ((await stat(inner).catch(() => undefined))?.isFile()) sources.push({ file: inner, stem: e.name });
    } else if (/\.sql$/i.test(e.name) && !DOWN_FILE.test(e.name)) {
      sources.push({ file: full, stem: e.name.replace(/(\.up)?\.sql$/i, '') });
    }
  }
  // `${stem}.` so that a stem that is a prefix of another sorts as `x.sql` does before `x2.sql`.
  return sources.sort((a, b) => compareFileNames(`${a.stem}.`, `${b.stem}.`));
}

function partFileName(stem: string, part: number, parts: number): string {
  if (parts === 1) return `${stem}.yaml`;
  return `${stem}_${String(part).padStart(Math.max(2, String(parts).length), '0')}.yaml`;
}

/** A version schema name that fits in 63 bytes: `<schema>_<name>`, else shortened with a hash of the name. */
function versionSchemaFor(schema: string, name: string): string | undefined {
  const full = `${schema}_${name}`;
  if (Buffer.byteLength(full, 'utf8') <= MAX_IDENTIFIER_BYTES) return undefined;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  let head = full;
  while (Buffer.byteLength(`${head}_${hash}`, 'utf8') > MAX_IDENTIFIER_BYTES) head = head.slice(0, -1);
  return `${head}_${hash}`;
}

function partYaml(result: ConvertResult, source: string, part: MigrationPart, label: string | undefined, versionSchema: string | undefined): string {
  const yaml = migrationYaml(result, source, part, label);
  // version_schema only when <schema>_<name> would not fit in an identifier.
  return versionSchema === undefined ? yaml : `${yaml.trimEnd()}\nversion_schema: ${JSON.stringify(versionSchema)}\n`;
}

/** The output names must sort as their sources do, or `migrate` would apply them out of order. */
function checkOrder(files: readonly ConvertedFile[]): void {
  for (let i = 1; i < files.length; i++) {
    const [a, b] = [files[i - 1]!, files[i]!];
    if (compareFileNames(a.fileName, b.fileName) < 0) continue;
    throw new InvalidInputError(
      `the converted files ${a.fileName} (from ${a.source}) and ${b.fileName} (from ${b.source}) would not sort in the history's order`,
      { file: b.source },
      'rename the SQL files so that no name is another one followed by "_", digits or capitals (e.g. give each a unique number prefix), then convert again',
      { code: 'invalid-input' },
    );
  }
}

export async function convertHistory(sources: readonly HistorySource[], opts: { schema: string; catalog?: Map<string, TableModel> }): Promise<HistoryResult> {
  let tables = opts.catalog ?? new Map<string, TableModel>();
  const out: HistoryResult = { files: [], sources: sources.length, statements: 0, warnings: [], todos: [], dropped: [], skipped: [], tables };
  for (const [k, src] of sources.entries()) {
    const parsed = await parseSqlFile(src.file);
    out.statements += parsed.statements.length;
    let result: ConvertResult;
    try {
      result = convertSql(parsed, { schema: opts.schema, catalog: tables, knownFrom: k === 0 ? 'here' : 'from this file or the files before it' });
    } catch (err) {
      // A file of only BEGIN/COMMIT or settings changes nothing: no migration for it.
      if (err instanceof InvalidInputError && err.problem.startsWith('nothing to convert')) {
        out.skipped.push({ source: src.file, reason: err.problem });
        continue;
      }
      throw err;
    }
    tables = result.tables;
    result.parts.forEach((part, p) => {
      const fileName = partFileName(src.stem, p + 1, result.parts.length);
      const name = fileName.replace(/\.yaml$/, '');
      const label = result.parts.length > 1 ? `part ${p + 1} of ${result.parts.length}` : undefined;
      const yaml = partYaml(result, src.file, part, label, versionSchemaFor(opts.schema, name));
      out.files.push({ source: src.file, fileName, name, yaml, operations: part.operations.length, part: p + 1, parts: result.parts.length });
      for (const t of result.todos) if (t.operationIndex >= part.first && t.operationIndex < part.first + part.operations.length) out.todos.push({ ...t, outputFile: fileName });
    });
    out.warnings.push(...result.warnings);
    out.dropped.push(...result.dropped);
  }
  checkOrder(out.files);
  out.tables = tables;
  return out;
}
