import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import YAML, { LineCounter } from 'yaml';
import type { z } from 'zod';
import { type InputErrorCode, type InputLocation, InvalidInputError } from '../errors.js';
import { identifierFits } from '../sql/ident.js';
import { type DuplicateKey, findDuplicateJsonKey, findDuplicateYamlKey, linePosition } from './duplicate-keys.js';
import { pgrollForms } from './pgroll-forms.js';
import { allOperationKinds, type AnyOperationKind, type Migration, type Operation, type OperationKind, operationKinds, operationSchemas } from './schema.js';
import { checkMigrationFragments } from './sql-fragments.js';

/**
 * Limits on a migration file, so that no file can exhaust the runner's memory. Far above any
 * real migration (pgroll's examples have 1 to 20 operations); split a bigger one in several files.
 */
export const MIGRATION_LIMITS = {
  /** Bytes of the file; a larger one is refused before it is read. */
  maxFileBytes: 2 * 1024 * 1024,
  /** Operations of one migration. */
  maxOperations: 1_000,
  /** Nesting of objects and lists (a real file needs 7 levels). */
  maxDepth: 32,
} as const;

type Path = ReadonlyArray<PropertyKey>;

function fieldPath(issuePath: Path): string {
  return issuePath.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Where a path into the document is: operations[i] (kind) and the field inside, or a top-level field. */
function locationOfPath(docPath: Path, file: string | undefined): InputLocation {
  const loc: InputLocation = file !== undefined ? { file } : {};
  if (docPath[0] === 'operations' && typeof docPath[1] === 'number') {
    const [, index, kind, ...rest] = docPath;
    return {
      ...loc,
      operationIndex: index,
      ...(typeof kind === 'string' ? { operation: kind } : {}),
      ...(rest.length ? { field: fieldPath(rest) } : {}),
    };
  }
  return docPath.length ? { ...loc, field: fieldPath(docPath) } : loc;
}

function issueCode(issue: z.core.$ZodIssue): InputErrorCode {
  const code = issue.code === 'custom' ? (issue.params as { code?: InputErrorCode } | undefined)?.code : undefined;
  return code ?? 'invalid-field';
}

/** A string PostgreSQL (and the state's jsonb) can store: no NUL character, no lone UTF-16 surrogate. */
function storableProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL cannot store';
  if (/\p{Cs}/u.test(value)) return 'contains a lone UTF-16 surrogate (invalid Unicode), which PostgreSQL cannot store';
  return undefined;
}

/**
 * One walk over the decoded document before it is typed: nesting depth, and every key and string
 * storable. Iterative, so that no nesting can overflow the stack.
 */
function checkDocumentShape(doc: unknown, file: string | undefined): void {
  const stack: { value: unknown; path: PropertyKey[] }[] = [{ value: doc, path: [] }];
  while (stack.length) {
    const { value, path: at } = stack.pop()!;
    if (typeof value === 'string') {
      const problem = storableProblem(value);
      if (problem) throw new InvalidInputError(`the text ${problem}`, locationOfPath(at, file), 'remove the character', { code: 'invalid-field' });
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (at.length >= MIGRATION_LIMITS.maxDepth) {
      throw new InvalidInputError(
        `objects and lists are nested more than ${MIGRATION_LIMITS.maxDepth} levels deep`,
        locationOfPath(at, file),
        'a migration file needs no more than a few levels; check this field',
        { code: 'limit-exceeded' },
      );
    }
    const entries: [PropertyKey, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [key, child] of entries) {
      const keyProblem = typeof key === 'string' ? storableProblem(key) : undefined;
      if (keyProblem) throw new InvalidInputError(`a key ${keyProblem}`, locationOfPath(at, file), 'remove the character', { code: 'invalid-field' });
      stack.push({ value: child, path: [...at, key] });
    }
  }
}

/**
 * What an operation acts on, for operations that cannot meaningfully be given twice on the same
 * object in one migration (the second would act on what the first already created or removed).
 */
const operationTarget: Partial<Record<OperationKind, (body: Record<string, unknown>) => { key: string; field: string } | undefined>> = {
  create_table: (b) => ({ key: `table ${String(b['name'])}`, field: 'name' }),
  drop_table: (b) => ({ key: `table ${String(b['name'])}`, field: 'name' }),
  create_index: (b) => ({ key: `index ${String(b['name'])}`, field: 'name' }),
  drop_index: (b) => ({ key: `index ${String(b['name'])}`, field: 'name' }),
  drop_column: (b) => ({ key: `column ${String(b['column'])} of table ${String(b['table'])}`, field: 'column' }),
  create_constraint: (b) => ({ key: `constraint ${String(b['name'])} of table ${String(b['table'])}`, field: 'name' }),
  drop_constraint: (b) => ({ key: `constraint ${String(b['name'])} of table ${String(b['table'])}`, field: 'name' }),
  drop_multicolumn_constraint: (b) => ({ key: `constraint ${String(b['name'])} of table ${String(b['table'])}`, field: 'name' }),
  rename_constraint: (b) => ({ key: `constraint ${String(b['from'])} of table ${String(b['table'])}`, field: 'from' }),
};

/** The same create/drop of the same object twice (two drop_index of one index…): refused at the second. */
function checkDuplicateOperations(operations: Operation[], file: string | undefined): void {
  const first = new Map<string, number>();
  operations.forEach((op, index) => {
    const target = operationTarget[op.kind]?.(op.body as Record<string, unknown>);
    if (!target) return;
    const key = `${op.kind} ${target.key}`;
    const earlier = first.get(key);
    if (earlier !== undefined) {
      throw new InvalidInputError(
        `operations[${earlier}] already does ${op.kind} on ${target.key}; the same operation on the same object is given twice`,
        { ...(file !== undefined ? { file } : {}), operationIndex: index, operation: op.kind, field: target.field },
        'remove one of the two',
        { code: 'duplicate-operation' },
      );
    }
    first.set(key, index);
  });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

/** Parse a migration document (already decoded from YAML/JSON) into a typed migration. */
export function parseMigration(doc: unknown, file: string | undefined, fallbackName?: string): Migration {
  const at = (extra: { operationIndex?: number; operation?: string; field?: string } = {}) => ({
    ...(file !== undefined ? { file } : {}),
    ...extra,
  });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InvalidInputError('a migration must be an object with an "operations" list', at(), undefined, { code: 'invalid-file' });
  }
  const raw = doc as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!['name', 'version_schema', 'operations'].includes(key)) {
      throw new InvalidInputError(`unknown top-level field "${key}"`, at({ field: key }), 'allowed: name, version_schema, operations', { code: 'invalid-field' });
    }
  }
  const name = raw['name'] ?? fallbackName;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidInputError('the migration has no name', at({ field: 'name' }), 'set "name", or give the file a name', { code: 'invalid-name' });
  }
  if (raw['version_schema'] !== undefined && (typeof raw['version_schema'] !== 'string' || raw['version_schema'] === '')) {
    throw new InvalidInputError('must be a non-empty string', at({ field: 'version_schema' }), undefined, { code: 'invalid-field' });
  }
  const ops = raw['operations'];
  if (!Array.isArray(ops) || ops.length === 0) {
    throw new InvalidInputError('"operations" must be a non-empty list', at({ field: 'operations' }), undefined, { code: 'invalid-field' });
  }
  if (ops.length > MIGRATION_LIMITS.maxOperations) {
    throw new InvalidInputError(
      `the migration has ${ops.length} operations, more than the limit of ${MIGRATION_LIMITS.maxOperations}`,
      at({ field: 'operations' }),
      'split it into several migrations',
      { code: 'limit-exceeded' },
    );
  }
  checkDocumentShape(doc, file);
  const operations: Operation[] = ops.map((entry, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || Object.keys(entry).length !== 1) {
      throw new InvalidInputError(
        'each operation must be an object with exactly one key, the operation name',
        at({ operationIndex: index }),
        `e.g. { "add_column": { ... } }; known operations: ${operationKinds.join(', ')}`,
        { code: 'invalid-field' },
      );
    }
    const [kindName, body] = Object.entries(entry as Record<string, unknown>)[0]!;
    if (!(allOperationKinds as string[]).includes(kindName)) {
      throw new InvalidInputError(`unknown operation "${kindName}"`, at({ operationIndex: index, operation: kindName }), `known operations: ${allOperationKinds.join(', ')}`, {
        code: 'unsupported',
      });
    }
    // pgroll's other spellings (empty strings for absent fields, create_index columns as names or a map).
    const result = operationSchemas[kindName as AnyOperationKind].safeParse(pgrollForms(kindName, body));
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new InvalidInputError(describeIssue(issue), at({ operationIndex: index, operation: kindName, field: fieldPath(issue.path) || kindName }), undefined, {
        code: issueCode(issue),
      });
    }
    return { kind: kindName as OperationKind, body: result.data } as Operation;
  });
  checkDuplicateOperations(operations, file);
  const versionSchema = raw['version_schema'] as string | undefined;
  return { name, ...(versionSchema !== undefined ? { versionSchema } : {}), operations, ...(file !== undefined ? { file } : {}) };
}

export type MigrationFormat = 'json' | 'yaml';

/** JSON for `.json` files, YAML (which also reads JSON) for everything else. */
export function formatOf(file: string): MigrationFormat {
  return path.extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
}

function tooLarge(bytes: number, file: string | undefined): InvalidInputError {
  return new InvalidInputError(
    `the file is ${bytes} bytes, more than the limit of ${MIGRATION_LIMITS.maxFileBytes} bytes`,
    file !== undefined ? { file } : {},
    'split it into several migrations',
    { code: 'limit-exceeded' },
  );
}

function duplicateKeyError(dup: DuplicateKey, file: string | undefined): InvalidInputError {
  return new InvalidInputError(
    `key "${dup.key}" is given twice in the same object (the second one is here)`,
    { ...locationOfPath([...dup.path, dup.key], file), line: dup.line, column: dup.column },
    'keep one of them; JSON parsers would silently keep the last, so the file may not mean what it seems to',
    { code: 'duplicate-key' },
  );
}

/** JSON.parse's message, and where it points, as a line and column. */
function jsonSyntaxError(err: Error, text: string, file: string | undefined): InvalidInputError {
  const offset = /position (\d+)/.exec(err.message)?.[1];
  const at = offset !== undefined ? linePosition(text, Number(offset)) : undefined;
  return new InvalidInputError(`not valid JSON: ${err.message}`, { ...(file !== undefined ? { file } : {}), ...(at ?? {}) }, undefined, {
    cause: err,
    code: 'invalid-file',
  });
}

function decodeJson(text: string, file: string | undefined): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw jsonSyntaxError(err as Error, text, file);
  }
  const dup = findDuplicateJsonKey(text);
  if (dup) throw duplicateKeyError(dup, file);
  return doc;
}

function decodeYaml(text: string, file: string | undefined): unknown {
  const lineCounter = new LineCounter();
  const fileLoc = file !== undefined ? { file } : {};
  let parsed: YAML.Document.Parsed;
  try {
    parsed = YAML.parseDocument(text, { uniqueKeys: false, prettyErrors: true, lineCounter });
  } catch (err) {
    throw new InvalidInputError(`not valid YAML: ${(err as Error).message}`, fileLoc, undefined, { cause: err, code: 'invalid-file' });
  }
  const error = parsed.errors[0];
  if (error) {
    const at = error.linePos?.[0];
    throw new InvalidInputError(`not valid YAML: ${error.message}`, { ...fileLoc, ...(at ? { line: at.line, column: at.col } : {}) }, undefined, {
      cause: error,
      code: 'invalid-file',
    });
  }
  const dup = findDuplicateYamlKey(parsed, lineCounter);
  if (dup) throw duplicateKeyError(dup, file);
  try {
    return parsed.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new InvalidInputError(`not valid YAML: ${(err as Error).message}`, fileLoc, undefined, { cause: err, code: 'invalid-file' });
  }
}

/**
 * Parse the text of a migration file (YAML or JSON) into a typed migration, with every check that
 * needs no database. `file` is only for error locations and the default name.
 */
export function parseMigrationText(text: string, file: string | undefined, format: MigrationFormat, fallbackName?: string): Migration {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MIGRATION_LIMITS.maxFileBytes) throw tooLarge(bytes, file);
  if (text.trim() === '') {
    throw new InvalidInputError('the file is empty', file !== undefined ? { file } : {}, 'a migration is an object with an "operations" list', { code: 'invalid-file' });
  }
  // A byte-order mark (some Windows editors write one) is not part of the JSON text.
  const doc = format === 'json' ? decodeJson(text.replace(/^\uFEFF/, ''), file) : decodeYaml(text, file);
  const name = fallbackName ?? (file !== undefined ? path.basename(file, path.extname(file)) : undefined);
  const migration = parseMigration(doc, file, name);
  checkNames(migration);
  return migration;
}

/** Read a YAML or JSON migration file. The name defaults to the file name without extension. */
export async function loadMigrationFile(file: string): Promise<Migration> {
  let text: string;
  try {
    const size = (await stat(file)).size;
    if (size > MIGRATION_LIMITS.maxFileBytes) throw tooLarge(size, file);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`cannot read the file: ${(err as Error).message}`, { file }, undefined, { cause: err, code: 'invalid-file' });
  }
  const migration = parseMigrationText(text, file, formatOf(file));
  // SQL fragments with PostgreSQL's parser, before any connection (src/migration/sql-fragments.ts).
  await checkMigrationFragments(migration);
  return migration;
}

export function checkNames(migration: Migration): void {
  const loc = migration.file !== undefined ? { file: migration.file } : {};
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(migration.name) || !identifierFits(migration.name)) {
    throw new InvalidInputError(`migration name "${migration.name}" must be 1-63 bytes of letters, digits, "_", "-" or "."`, { ...loc, field: 'name' }, undefined, {
      code: identifierFits(migration.name) ? 'invalid-name' : 'name-too-long',
    });
  }
  if (migration.versionSchema !== undefined && !identifierFits(migration.versionSchema)) {
    throw new InvalidInputError(
      `version_schema "${migration.versionSchema}" is longer than PostgreSQL's 63-byte limit for names`,
      { ...loc, field: 'version_schema' },
      'use a shorter version_schema',
      { code: 'name-too-long' },
    );
  }
}
