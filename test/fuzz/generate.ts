/**
 * Generator of malformed (and some still valid) migration files for the fuzz test: seeded
 * mutations of the valid migrations in examples/, each with the outcome a correct tool gives.
 * Pure: no database, no file system (the examples' texts are passed in).
 */
import YAML from 'yaml';
import { seededRandom } from '../../src/util/seeded-random.js';

export type Format = 'json' | 'yaml';

/** A valid migration of examples/, in the order they apply. */
export interface Example {
  /** File name, e.g. `04_add_user_columns.yaml`. */
  file: string;
  format: Format;
  doc: MigrationDoc;
}

export interface MigrationDoc {
  name?: string;
  version_schema?: string;
  operations: Record<string, Record<string, unknown>>[];
}

/**
 * 'invalid': must be refused (exit 2) with a location; 'valid': must be accepted; 'either': a
 * mutation whose result may or may not be a valid migration (a truncated YAML file), only
 * checked not to crash.
 */
export type Expectation = 'invalid' | 'valid' | 'either';

export interface FuzzCase {
  id: number;
  /** The mutation, e.g. `drop-required-field`; escapes are reported per kind. */
  kind: string;
  /** Index into the examples: the database is in the state just before that example. */
  example: number;
  /** File name to report and to derive the migration's name from (the example's own base name). */
  fileName: string;
  format: Format;
  text: string;
  expect: Expectation;
  /** When the mutation is inside an operation: the index a refusal must name. */
  operationIndex?: number;
  /** What was changed, for the report of a failure. */
  detail: string;
}

/** The same seed gives the same files. */
export const rng = seededRandom;

type Path = (string | number)[];
type Random = () => number;

function pick<T>(r: Random, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)]!;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function getAt(root: unknown, path: Path): unknown {
  let v = root as Record<string | number, unknown> | undefined;
  for (const p of path) v = v?.[p] as Record<string | number, unknown> | undefined;
  return v;
}

function setAt(root: unknown, path: Path, value: unknown): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
}

function deleteAt(root: unknown, path: Path): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  delete parent[path[path.length - 1]!];
}

/** Every value inside an operation's body, with its path from the body. */
function walk(value: unknown, path: Path = []): { path: Path; value: unknown }[] {
  const out: { path: Path; value: unknown }[] = [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push({ path: [...path, i], value: v }, ...walk(v, [...path, i])));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push({ path: [...path, k], value: v }, ...walk(v, [...path, k]));
  }
  return out;
}

function serialize(doc: unknown, format: Format): string {
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : YAML.stringify(doc, { lineWidth: 0 });
}

/** One operation of one example, ready to be mutated. */
interface Target {
  example: number;
  format: Format;
  doc: MigrationDoc;
  index: number;
  kind: string;
  body: Record<string, unknown>;
  /** Path from the document's root to the body. */
  bodyPath: Path;
}

type Mutation = Omit<FuzzCase, 'id' | 'example' | 'fileName' | 'kind'> & { format: Format };

interface MutationKind {
  kind: string;
  weight: number;
  /** Undefined when the mutation does not apply to this operation (another one is drawn). */
  apply(t: Target, r: Random): Mutation | undefined;
}

const last = (p: Path) => p[p.length - 1];

/** A mutation inside operation `t.index`: the new document, expected to be refused there. */
function opCase(t: Target, doc: unknown, detail: string, expect: Expectation = 'invalid', format: Format = t.format): Mutation {
  return { format, text: serialize(doc, format), expect, operationIndex: t.index, detail };
}

/** Change the value at `path` (from the body) in a copy of the document. */
function withValue(t: Target, path: Path, value: unknown): MigrationDoc {
  const doc = clone(t.doc);
  setAt(doc, [...t.bodyPath, ...path], value);
  return doc;
}

/** Paths (from the body) of the leaves that satisfy `test`. */
function leaves(t: Target, test: (path: Path, value: unknown) => boolean): Path[] {
  return walk(t.body)
    .filter((l) => test(l.path, l.value))
    .map((l) => l.path);
}

/** Fields holding an SQL expression (not raw statements), by the key that holds them. */
function isExpressionField(t: Target, path: Path, value: unknown): boolean {
  if (typeof value !== 'string' || t.kind === 'sql') return false;
  const key = last(path);
  const parent = path[path.length - 2];
  if (key === 'up' || key === 'down' || key === 'default' || key === 'predicate' || key === 'expression' || key === 'constraint') return true;
  if (key === 'check' && (t.kind === 'create_constraint' || parent !== undefined)) return true;
  // up/down maps of create_constraint and drop_multicolumn_constraint: { column: expression }.
  return parent === 'up' || parent === 'down';
}

function expressionPurpose(path: Path): 'value' | 'condition' | 'default' | 'predicate' | 'generated' {
  const key = last(path);
  if (key === 'default') return 'default';
  if (key === 'predicate') return 'predicate';
  if (key === 'expression') return 'generated';
  if (key === 'constraint' || key === 'check') return 'condition';
  return 'value';
}

/** Fields that name a new or existing object (all are identifiers, at most 63 bytes). */
function isNameField(t: Target, path: Path, value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const key = last(path);
  const parent = path[path.length - 2];
  if (['name', 'to', 'from', 'table', 'column'].includes(String(key))) return !(t.kind === 'create_index' && parent === 'opclass');
  return parent === 'columns' || parent === 'include_columns';
}

/** Column `type` fields: the SQL type of a column. */
function isTypeField(t: Target, path: Path): boolean {
  if (last(path) !== 'type') return false;
  if (t.kind === 'create_table') return path[0] === 'columns' && path.length === 3;
  if (t.kind === 'add_column') return path[0] === 'column' && path.length === 2;
  return t.kind === 'alter_column' && path.length === 1;
}

/** Paths of existing-table references (not references of foreign keys). */
function tableRefPaths(t: Target): Path[] {
  if (t.kind === 'drop_table') return [['name']];
  if (t.kind === 'rename_table') return [['from']];
  return typeof t.body['table'] === 'string' && t.kind !== 'create_table' ? [['table']] : [];
}

/** Paths of references to existing columns. */
function columnRefPaths(t: Target): Path[] {
  switch (t.kind) {
    case 'drop_column':
    case 'alter_column':
      return [['column']];
    case 'rename_column':
      return [['from']];
    case 'create_index':
      return leaves(t, (p) => p[0] === 'columns' && last(p) === 'column');
    case 'create_constraint':
      return leaves(t, (p) => p[0] === 'columns' && p.length === 2);
    case 'create_table':
      return leaves(t, (p) => p[0] === 'constraints' && p[2] === 'columns' && p.length === 4);
    default:
      return [];
  }
}

const OPERATION_SCHEMA_REQUIRED: Record<string, string[]> = {
  create_table: ['name', 'columns'],
  add_column: ['table', 'column'],
  drop_column: ['table', 'column'],
  rename_column: ['table', 'from', 'to'],
  alter_column: ['table', 'column'],
  create_index: ['name', 'table', 'columns'],
  drop_index: ['name'],
  drop_table: ['name'],
  rename_table: ['from', 'to'],
  sql: ['up'],
  create_constraint: ['table', 'name', 'type'],
  drop_constraint: ['table', 'name'],
  drop_multicolumn_constraint: ['table', 'name', 'down'],
  rename_constraint: ['table', 'from', 'to'],
  set_replica_identity: ['table', 'identity'],
};

/** Required fields of nested objects, by the key holding the object. */
const NESTED_REQUIRED: Record<string, string[]> = { column: ['name', 'type'], references: ['table'], check: ['name', 'constraint'], identity: ['type', 'index'] };

function wrongTypeOf(value: unknown, r: Random): unknown {
  if (typeof value === 'string') return pick(r, [42, true, ['x'], { x: 1 }]);
  if (typeof value === 'boolean') return pick(r, ['yes', 1, []]);
  if (Array.isArray(value)) return pick(r, ['x', 7, { x: 1 }]);
  if (typeof value === 'object' && value !== null) return pick(r, ['x', 7, [1, 2]]);
  return 'x';
}

/** `depth` lists and objects nested in one another, as JSON text. */
function nestedJson(depth: number): string {
  const half = Math.floor(depth / 2);
  return `${'[{"a":'.repeat(half)}"x"${'}]'.repeat(half)}`;
}

/** A 64+-byte name, ASCII or multibyte (cut on characters, never fits). */
function longName(r: Random): string {
  return pick(r, ['n'.repeat(64), 'é'.repeat(32), `${'語'.repeat(21)}x`, `abc${'😀'.repeat(16)}`, 'x'.repeat(200)]);
}

/** A 63-byte name with multibyte characters: fits exactly. */
function fittingMultibyteName(r: Random, prefix: string): string {
  const char = pick(r, ['é', '語', '😀']);
  let name = prefix;
  while (Buffer.byteLength(name + char) <= 63) name += char;
  while (Buffer.byteLength(name) < 63) name += 'x';
  return name;
}

const expressionMutations: { kind: string; value: (purpose: string) => string | undefined }[] = [
  { kind: 'sql-syntax', value: () => '(1 +' },
  { kind: 'sql-unknown-column', value: (p) => (p === 'condition' || p === 'predicate' ? 'no_such_column_fz > 0' : 'no_such_column_fz') },
  { kind: 'sql-second-statement', value: () => '1); DROP TABLE users; SELECT (1' },
  { kind: 'sql-aggregate', value: (p) => (p === 'condition' || p === 'predicate' ? 'count(*) > 0' : 'count(*)') },
  { kind: 'sql-window', value: (p) => (p === 'condition' || p === 'predicate' ? 'row_number() OVER () > 0' : 'row_number() OVER ()') },
  { kind: 'sql-set-returning', value: (p) => (p === 'condition' || p === 'predicate' ? 'generate_series(1, 2) > 0' : 'generate_series(1, 2)') },
  // A subquery is fine in up/down (a trigger evaluates it); not in a default, check, predicate or generated column.
  { kind: 'sql-subquery', value: (p) => (p === 'value' ? undefined : p === 'condition' || p === 'predicate' ? '(SELECT true)' : '(SELECT 1)') },
  // An index predicate and a generated column must be IMMUTABLE.
  { kind: 'sql-volatile', value: (p) => (p === 'predicate' ? 'random() > 0.5' : p === 'generated' ? 'random()' : undefined) },
];

const smuggledTypes = [
  'int UNIQUE',
  'text NOT NULL',
  'integer CHECK (false)',
  'text DEFAULT 1',
  'int PRIMARY KEY',
  'int REFERENCES users (id)',
  'int; DROP TABLE users',
  'text COLLATE "C" NOT NULL',
];

const mutationKinds: MutationKind[] = [
  {
    kind: 'drop-required-field',
    weight: 6,
    apply(t, r) {
      const top = OPERATION_SCHEMA_REQUIRED[t.kind]!.map((k) => [k] as Path);
      const inner = walk(t.body)
        .filter(
          (l) =>
            typeof l.value === 'object' &&
            l.value !== null &&
            !Array.isArray(l.value) &&
            NESTED_REQUIRED[String(last(l.path))] &&
            !(t.kind === 'set_replica_identity' && last(l.path) === 'index'),
        )
        .flatMap((l) => NESTED_REQUIRED[String(last(l.path))]!.filter((k) => k in (l.value as object)).map((k) => [...l.path, k]));
      const columnFields = leaves(t, (p) => t.kind === 'create_table' && p[0] === 'columns' && p.length === 3 && (p[2] === 'name' || p[2] === 'type'));
      const path = pick(r, [...top, ...inner, ...columnFields]);
      const doc = clone(t.doc);
      deleteAt(doc, [...t.bodyPath, ...path]);
      return opCase(t, doc, `removed ${path.join('.')}`);
    },
  },
  {
    kind: 'wrong-field-type',
    weight: 6,
    apply(t, r) {
      const candidates = walk(t.body).filter((l) => l.value !== null && !(last(l.path) === 'default' && l.value === null));
      if (!candidates.length) return undefined;
      const l = pick(r, candidates);
      // An object replaced by another object, or a list item's type, must still be wrong for zod.
      const value = wrongTypeOf(l.value, r);
      if (typeof l.path[l.path.length - 1] === 'number' && typeof value === 'object') return undefined;
      return opCase(t, withValue(t, l.path, value), `${l.path.join('.')} = ${JSON.stringify(value)}`);
    },
  },
  {
    kind: 'unknown-operation',
    weight: 3,
    apply(t, r) {
      const doc = clone(t.doc);
      const name = pick(r, ['frobnicate_table', `${t.kind}s`, t.kind.toUpperCase(), 'alter_table', 'create_view']);
      doc.operations[t.index] = { [name]: t.body };
      return opCase(t, doc, `operation renamed ${name}`);
    },
  },
  {
    kind: 'unknown-field',
    weight: 3,
    apply(t, r) {
      const objects = [
        [] as Path,
        ...walk(t.body)
          .filter((l) => typeof l.value === 'object' && l.value !== null && !Array.isArray(l.value) && !['up', 'down'].includes(String(last(l.path))))
          .map((l) => l.path),
      ];
      const path = pick(r, objects);
      const doc = clone(t.doc);
      (getAt(doc, [...t.bodyPath, ...path]) as Record<string, unknown>)[pick(r, ['colour', 'nulable', 'if_not_exists', 'cascade'])] = pick(r, [true, 'red', 1]);
      return opCase(t, doc, `unknown field added at ${path.join('.') || '(body)'}`);
    },
  },
  {
    kind: 'bad-enum-value',
    weight: 2,
    apply(t, r) {
      // Fields with a fixed set of values (replica identity's type too: FULL, NOTHING, DEFAULT, INDEX).
      // Not the empty string: pgroll writes it for an absent optional field, and it is read so.
      const enumKeys = ['method', 'on_delete', 'on_update', 'match_type', 'sort', 'nulls', 'user_specified_values'];
      const paths = leaves(t, (p, v) => typeof v === 'string' && (enumKeys.includes(String(last(p))) || (last(p) === 'type' && !isTypeField(t, p))));
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      const value = pick(r, ['bogus', 'CASCADES', 'btrees']);
      return opCase(t, withValue(t, path, value), `${path.join('.')} = ${JSON.stringify(value)}`);
    },
  },
  {
    kind: 'unknown-table',
    weight: 4,
    apply(t, r) {
      const paths = tableRefPaths(t);
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      return opCase(t, withValue(t, path, 'no_such_table_fz'), `${path.join('.')} = no_such_table_fz`);
    },
  },
  {
    kind: 'reserved-column-table',
    weight: 1,
    apply(t) {
      // fz_reserved (fixture) has a column named _tandem_synced, tandem's backfill marker.
      if (!['add_column', 'alter_column', 'drop_column', 'rename_column', 'create_index'].includes(t.kind)) return undefined;
      return opCase(t, withValue(t, ['table'], 'fz_reserved'), 'table = fz_reserved (has a _tandem_synced column)');
    },
  },
  {
    kind: 'unknown-column',
    weight: 4,
    apply(t, r) {
      const paths = columnRefPaths(t);
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      return opCase(t, withValue(t, path, 'no_such_column_fz'), `${path.join('.')} = no_such_column_fz`);
    },
  },
  {
    kind: 'unknown-index',
    weight: 1,
    apply(t) {
      if (t.kind !== 'drop_index') return undefined;
      return opCase(t, withValue(t, ['name'], 'no_such_index_fz'), 'name = no_such_index_fz');
    },
  },
  {
    kind: 'long-name',
    weight: 6,
    apply(t, r) {
      const paths = leaves(t, (p, v) => isNameField(t, p, v));
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      const name = longName(r);
      return opCase(t, withValue(t, path, name), `${path.join('.')} = ${Buffer.byteLength(name)}-byte name`);
    },
  },
  {
    kind: 'reserved-name',
    weight: 2,
    apply(t, r) {
      const paths =
        t.kind === 'add_column'
          ? [['column', 'name']]
          : t.kind === 'rename_column'
            ? [['to']]
            : t.kind === 'create_table'
              ? leaves(t, (p) => p[0] === 'columns' && p.length === 3 && p[2] === 'name')
              : [];
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      const name = pick(r, ['_tandem_synced', '_tandem_new_email', '_tandem_x']);
      return opCase(t, withValue(t, path, name), `${path.join('.')} = ${name}`);
    },
  },
  {
    kind: 'existing-table-name',
    weight: 1,
    apply(t) {
      if (t.kind !== 'create_table' || t.example === 0) return undefined;
      return opCase(t, withValue(t, ['name'], 'users'), 'name = users (exists)');
    },
  },
  {
    kind: 'duplicate-key',
    weight: 5,
    apply(t, r) {
      const scalars = walk(t.body).filter((l) => typeof l.path[l.path.length - 1] === 'string' && (typeof l.value === 'string' || typeof l.value === 'boolean'));
      if (!scalars.length) return undefined;
      const l = pick(r, scalars);
      const doc = clone(t.doc);
      const holder = getAt(doc, [...t.bodyPath, ...l.path.slice(0, -1)]) as Record<string, unknown>;
      // A marker key placed first in the object, replaced in the text by a second copy of the key.
      const entries = Object.entries(holder);
      for (const k of Object.keys(holder)) delete holder[k];
      holder['__fz_duplicate__'] = 0;
      for (const [k, v] of entries) holder[k] = v;
      const format = pick(r, ['json', 'yaml'] as const);
      const key = String(last(l.path));
      const value = typeof l.value === 'string' ? JSON.stringify(`${l.value}_other`) : String(!l.value);
      const text = serialize(doc, format).replace(
        format === 'json' ? '"__fz_duplicate__": 0' : '__fz_duplicate__: 0',
        () => `${format === 'json' ? JSON.stringify(key) : key}: ${value}`,
      );
      return { format, text, expect: 'invalid', operationIndex: t.index, detail: `key ${l.path.join('.')} given twice (${format})` };
    },
  },
  {
    kind: 'sql-fragment',
    weight: 12,
    apply(t, r) {
      const paths = leaves(t, (p, v) => isExpressionField(t, p, v));
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      const purpose = expressionPurpose(path);
      const m = pick(r, expressionMutations);
      const value = m.value(purpose);
      if (value === undefined) return undefined;
      return { ...opCase(t, withValue(t, path, value), `${path.join('.')} (${purpose}) = ${value}`), kindOverride: m.kind } as Mutation;
    },
  },
  {
    kind: 'smuggled-type',
    weight: 4,
    apply(t, r) {
      const paths = leaves(t, (p) => isTypeField(t, p));
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      const type = pick(r, smuggledTypes);
      return opCase(t, withValue(t, path, type), `${path.join('.')} = ${type}`);
    },
  },
  {
    kind: 'unknown-type',
    weight: 2,
    apply(t, r) {
      const paths = leaves(t, (p) => isTypeField(t, p));
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      return opCase(t, withValue(t, path, pick(r, ['no_such_type_fz', 'integer(', 'varchar(-1)'])), `${path.join('.')} = unknown type`);
    },
  },
  {
    kind: 'bad-reference',
    weight: 3,
    apply(t, r) {
      const paths = leaves(
        t,
        (p) => p.includes('references') && (last(p) === 'table' || last(p) === 'column' || (p[p.length - 2] === 'columns' && p[p.length - 3] === 'references')),
      );
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      const value = last(path) === 'table' ? 'no_such_table_fz' : 'no_such_column_fz';
      return opCase(t, withValue(t, path, value), `${path.join('.')} = ${value}`);
    },
  },
  {
    kind: 'bad-collate-opclass',
    weight: 2,
    apply(t, r) {
      if (t.kind !== 'create_index') return undefined;
      const columns = t.body['columns'] as unknown[];
      const i = Math.floor(r() * columns.length);
      const collate = r() < 0.5;
      const doc = withValue(t, ['columns', i, collate ? 'collate' : 'opclass'], collate ? 'no_such_collation_fz' : { name: 'no_such_opclass_fz' });
      return opCase(t, doc, `columns[${i}].${collate ? 'collate' : 'opclass'} unknown`);
    },
  },
  // Reported as bad-storage-parameter-syntax, or bad-storage-parameter-value:<operation>.
  {
    kind: 'bad-storage-parameters',
    weight: 1,
    apply(t, r) {
      const paths = leaves(t, (p) => last(p) === 'storage_parameters');
      if (t.kind === 'create_index') paths.push(['storage_parameters']);
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      const value = pick(r, ['no_such_parameter_fz = 1', 'fillfactor = 1000', 'fillfactor = 70) WHERE (false']);
      // Told apart: a parameter that does not parse, and one PostgreSQL refuses only when it builds the index.
      const parses = !value.includes(')');
      const kind = parses ? `bad-storage-parameter-value:${t.kind}` : 'bad-storage-parameter-syntax';
      return { ...opCase(t, withValue(t, path, value), `${path.join('.')} = ${value}`), kindOverride: kind } as Mutation;
    },
  },
  {
    kind: 'raw-sql',
    weight: 2,
    apply(t, r) {
      if (t.kind !== 'sql') return undefined;
      const syntax = r() < 0.5;
      const value = syntax ? pick(r, ['CREATE TABLE (', 'SELEC 1', 'ALTER TABLE']) : pick(r, ['SELECT * FROM no_such_table_fz', 'ALTER TABLE no_such_table_fz ADD COLUMN x int']);
      return { ...opCase(t, withValue(t, ['up'], value), `up = ${value}`), kindOverride: syntax ? 'raw-sql-syntax' : 'raw-sql-unknown-object' } as Mutation;
    },
  },
  {
    kind: 'deep-nesting',
    weight: 1,
    apply(t, r) {
      const l = pick(r, walk(t.body));
      const depth = pick(r, [40, 500, 5_000]);
      // Written as text: JSON.stringify itself would overflow the stack on the deepest ones.
      const text = serialize(withValue(t, l.path, '__fz_deep__'), 'json').replace('"__fz_deep__"', () => nestedJson(depth));
      return { format: 'json', text, expect: 'invalid', operationIndex: t.index, detail: `${l.path.join('.')} nested ${depth} deep` };
    },
  },
  {
    kind: 'unstorable-text',
    weight: 1,
    apply(t, r) {
      const paths = leaves(t, (_p, v) => typeof v === 'string');
      if (!paths.length) return undefined;
      const path = pick(r, paths);
      const value = `${String(getAt(t.body, path))}${pick(r, ['\u0000', '\ud83d'])}`;
      return opCase(t, withValue(t, path, value), `${path.join('.')} with a NUL or lone surrogate`, 'invalid', 'json');
    },
  },
  {
    kind: 'duplicate-operation',
    weight: 3,
    apply(t) {
      const doc = clone(t.doc);
      doc.operations.splice(t.index + 1, 0, clone(doc.operations[t.index]!));
      // Creating, dropping or renaming the same object twice is always wrong; a comment set twice is not.
      const always = !['alter_column', 'sql', 'set_replica_identity'].includes(t.kind);
      return { ...opCase(t, doc, 'operation given twice', always ? 'invalid' : 'either'), operationIndex: t.index + 1 };
    },
  },
];

/** Mutations of the file as a whole (its text, or the top level of the document). */
const fileMutations: { kind: string; weight: number; apply(e: Example, r: Random): Mutation }[] = [
  { kind: 'unchanged', weight: 3, apply: (e) => ({ format: e.format, text: serialize(e.doc, e.format), expect: 'valid', detail: 'the example as it is' }) },
  {
    kind: 'reformatted',
    weight: 3,
    apply(e, r) {
      const format = pick(r, ['json', 'yaml'] as const);
      const reordered = {
        ...e.doc,
        operations: e.doc.operations.map((op) => Object.fromEntries(Object.entries(op).map(([k, b]) => [k, Object.fromEntries(Object.entries(b).reverse())]))),
      };
      const text = pick(r, [
        serialize(e.doc, format),
        serialize(reordered, format),
        format === 'json' ? JSON.stringify(e.doc) : `# a comment\n${serialize(e.doc, 'yaml')}\n# the end\n`,
      ]);
      return { format, text, expect: 'valid', detail: `reformatted as ${format}` };
    },
  },
  {
    kind: 'truncated',
    weight: 4,
    apply(e, r) {
      const text = serialize(e.doc, e.format).trimEnd();
      const cut = 1 + Math.floor(r() * (text.length - 2));
      // A cut JSON text is never valid; a cut YAML text may still be a (shorter) valid migration.
      return { format: e.format, text: text.slice(0, cut), expect: e.format === 'json' ? 'invalid' : 'either', detail: `cut at ${cut} of ${text.length}` };
    },
  },
  {
    kind: 'broken-yaml',
    weight: 3,
    apply(e, r) {
      const text = serialize(e.doc, 'yaml');
      const broken = pick(r, [
        text.replace('operations:\n  - ', 'operations:\n\t- '),
        `${text}  - { drop_index: [\n`,
        `${text}x: "unclosed\n`,
        `name: a: b\n${text}`,
        `${text}---\noperations: []\n`,
        `operations: *nowhere\n`,
        `${text}\n  bad indentation: x\n`,
      ]);
      return { format: 'yaml', text: broken, expect: 'invalid', detail: 'YAML syntax error' };
    },
  },
  {
    kind: 'broken-json',
    weight: 2,
    apply(e, r) {
      const text = serialize(e.doc, 'json');
      const broken = pick(r, [text.replace('{', '{,'), text.replace(/"\s*}/, '",}'), `${text}}`, text.replace('"operations"', "'operations'"), text.replace(':', '::')]);
      return { format: 'json', text: broken, expect: 'invalid', detail: 'JSON syntax error' };
    },
  },
  {
    kind: 'empty-file',
    weight: 1,
    apply: (_e, r) => ({ format: pick(r, ['json', 'yaml'] as const), text: pick(r, ['', '\n', '   \n\t\n', '# only a comment\n']), expect: 'invalid', detail: 'empty file' }),
  },
  {
    kind: 'not-a-migration',
    weight: 2,
    apply: (e, r) => {
      const format = pick(r, ['json', 'yaml'] as const);
      const doc = pick(r, [
        [e.doc],
        'operations',
        42,
        null,
        { operations: [] },
        { operations: {} },
        { operations: e.doc.operations[0] },
        { ...e.doc, colour: 'red' },
        { operations: [...e.doc.operations, 'drop_table'] },
      ]);
      return { format, text: serialize(doc, format), expect: 'invalid', detail: `document = ${JSON.stringify(doc).slice(0, 60)}` };
    },
  },
  {
    kind: 'duplicate-top-level-key',
    weight: 1,
    apply: (e, r) => {
      const format = pick(r, ['json', 'yaml'] as const);
      const text = serialize(e.doc, format);
      const extra = format === 'json' ? text.replace(/^\{/, '{\n  "name": "fz_a", "name": "fz_b",') : `name: fz_a\nname: fz_b\n${text}`;
      return { format, text: extra, expect: 'invalid', detail: 'name given twice' };
    },
  },
  {
    kind: 'bad-migration-name',
    weight: 1,
    apply: (e, r) => {
      const bad = pick(r, [{ name: 'x'.repeat(64) }, { name: 'has space' }, { name: '' }, { version_schema: 'v'.repeat(64) }, { version_schema: 12 }]);
      return { format: e.format, text: serialize({ ...bad, ...e.doc, ...bad }, e.format), expect: 'invalid', detail: `top level ${JSON.stringify(bad).slice(0, 40)}` };
    },
  },
  {
    kind: 'too-many-operations',
    weight: 0.3,
    apply: () => {
      // 1,001 distinct, valid operations: refused by the limit alone.
      const ops = Array.from({ length: 1_001 }, (_, i) => ({ create_table: { name: `fz_many_${i}`, columns: [{ name: 'id', type: 'integer', pk: true }] } }));
      return { format: 'json', text: JSON.stringify({ operations: ops }), expect: 'invalid', detail: '1,001 operations' };
    },
  },
  {
    kind: 'too-large-file',
    weight: 0.2,
    // A valid document followed by whitespace: refused by the size limit alone.
    apply: (e) => ({ format: 'json', text: `${JSON.stringify(e.doc)}${' '.repeat(2 * 1024 * 1024 + 1)}`, expect: 'invalid', detail: 'over 2 MiB' }),
  },
  {
    kind: 'fitting-multibyte-name',
    weight: 1,
    apply: (e, r) => {
      // A new index name of exactly 63 bytes with multibyte characters: valid.
      const doc = clone(e.doc);
      let changed = false;
      doc.operations.forEach((op, i) => {
        if (op['create_index']) {
          op['create_index']['name'] = fittingMultibyteName(r, `fz${i}_`);
          changed = true;
        }
      });
      return { format: e.format, text: serialize(doc, e.format), expect: changed ? 'valid' : 'valid', detail: '63-byte multibyte index names' };
    },
  },
];

function targetsOf(examples: Example[]): Target[] {
  return examples.flatMap((e, example) =>
    e.doc.operations.map((op, index) => {
      const [kind, body] = Object.entries(op)[0]!;
      return { example, format: e.format, doc: e.doc, index, kind, body, bodyPath: ['operations', index, kind] };
    }),
  );
}

function weighted<T extends { weight: number }>(r: Random, items: T[]): T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  let x = r() * total;
  for (const i of items) if ((x -= i.weight) < 0) return i;
  return items[items.length - 1]!;
}

/**
 * `count` cases from `seed`: about four in five mutate one operation, the rest the whole file.
 * Each case keeps its example's base name, so that the migration's name is the example's.
 */
export function generateCases(examples: Example[], seed: number, count: number): FuzzCase[] {
  const r = rng(seed);
  const targets = targetsOf(examples);
  const cases: FuzzCase[] = [];
  while (cases.length < count) {
    const id = cases.length;
    if (r() < 0.8) {
      const t = pick(r, targets);
      const m = weighted(r, mutationKinds);
      const result = m.apply(t, r) as (Mutation & { kindOverride?: string }) | undefined;
      if (!result) continue;
      const { kindOverride, ...mutation } = result;
      cases.push({ id, kind: kindOverride ?? m.kind, example: t.example, fileName: fileNameOf(examples[t.example]!, mutation.format), ...mutation });
    } else {
      const example = Math.floor(r() * examples.length);
      const m = weighted(r, fileMutations);
      const mutation = m.apply(examples[example]!, r);
      cases.push({ id, kind: m.kind, example, fileName: fileNameOf(examples[example]!, mutation.format), ...mutation });
    }
  }
  return cases;
}

function fileNameOf(e: Example, format: Format): string {
  return `${e.file.replace(/\.(json|ya?ml)$/, '')}.${format === 'json' ? 'json' : 'yaml'}`;
}

/** The examples' files decoded (they are valid, so plain parsing is enough). */
export function decodeExample(file: string, text: string): Example {
  const format: Format = file.endsWith('.json') ? 'json' : 'yaml';
  return { file, format, doc: (format === 'json' ? JSON.parse(text) : YAML.parse(text)) as MigrationDoc };
}
