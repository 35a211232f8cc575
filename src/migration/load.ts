import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { identifierFits } from '../sql/ident.js';
import {
  allOperationKinds,
  type AnyOperationKind,
  type Migration,
  type Operation,
  type OperationKind,
  operationKinds,
  operationSchemas,
} from './schema.js';

function fieldPath(issuePath: ReadonlyArray<PropertyKey>): string {
  return issuePath
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
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
    throw new InvalidInputError('a migration must be an object with an "operations" list', at());
  }
  const raw = doc as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!['name', 'version_schema', 'operations'].includes(key)) {
      throw new InvalidInputError(`unknown top-level field "${key}"`, at({ field: key }), 'allowed: name, version_schema, operations');
    }
  }
  const name = raw['name'] ?? fallbackName;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidInputError('the migration has no name', at({ field: 'name' }), 'set "name", or give the file a name');
  }
  if (raw['version_schema'] !== undefined && (typeof raw['version_schema'] !== 'string' || raw['version_schema'] === '')) {
    throw new InvalidInputError('must be a non-empty string', at({ field: 'version_schema' }));
  }
  const ops = raw['operations'];
  if (!Array.isArray(ops) || ops.length === 0) {
    throw new InvalidInputError('"operations" must be a non-empty list', at({ field: 'operations' }));
  }
  const operations: Operation[] = ops.map((entry, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || Object.keys(entry).length !== 1) {
      throw new InvalidInputError(
        'each operation must be an object with exactly one key, the operation name',
        at({ operationIndex: index }),
        `e.g. { "add_column": { ... } }; known operations: ${operationKinds.join(', ')}`,
      );
    }
    const [kindName, body] = Object.entries(entry as Record<string, unknown>)[0]!;
    if (!(allOperationKinds as string[]).includes(kindName)) {
      throw new InvalidInputError(
        `unknown operation "${kindName}"`,
        at({ operationIndex: index, operation: kindName }),
        `known operations: ${allOperationKinds.join(', ')}`,
      );
    }
    const result = operationSchemas[kindName as AnyOperationKind].safeParse(body);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new InvalidInputError(
        describeIssue(issue),
        at({ operationIndex: index, operation: kindName, field: fieldPath(issue.path) || kindName }),
      );
    }
    return { kind: kindName as OperationKind, body: result.data } as Operation;
  });
  const versionSchema = raw['version_schema'] as string | undefined;
  return { name, ...(versionSchema !== undefined ? { versionSchema } : {}), operations, ...(file !== undefined ? { file } : {}) };
}

/** Read a YAML or JSON migration file. The name defaults to the file name without extension. */
export async function loadMigrationFile(file: string): Promise<Migration> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`cannot read the file: ${(err as Error).message}`, { file }, undefined, { cause: err });
  }
  const ext = path.extname(file).toLowerCase();
  let doc: unknown;
  try {
    doc = ext === '.json' ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new InvalidInputError(`not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { file }, undefined, {
      cause: err,
    });
  }
  const migration = parseMigration(doc, file, path.basename(file, path.extname(file)));
  checkNames(migration);
  return migration;
}

export function checkNames(migration: Migration): void {
  const loc = migration.file !== undefined ? { file: migration.file } : {};
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(migration.name) || !identifierFits(migration.name)) {
    throw new InvalidInputError(
      `migration name "${migration.name}" must be 1-63 bytes of letters, digits, "_", "-" or "."`,
      { ...loc, field: 'name' },
    );
  }
}
