/**
 * Spellings that pgroll reads and Tandem's schema states one way only, brought to that one way
 * before an operation is validated (the JSON Schema shows the canonical form):
 *
 * - An empty string for an optional text field (`up: ""`, `predicate: ""`…): pgroll's default
 *   for these fields, and what its Go structs write back, meaning "not given".
 * - create_index `columns` as a list of names (pgroll up to 0.9) or as a map of name → settings
 *   (pgroll 0.10 and later, and its documentation's YAML): a list of { column, …settings }.
 * - create_constraint `references.name`, shown in pgroll's documentation but not in its schema.
 *
 * Pure: returns a new body, leaves the input as it is.
 */

/** Optional text fields that pgroll treats as absent when empty. */
const EMPTY_MEANS_ABSENT = new Set([
  'up',
  'down',
  'check',
  'predicate',
  'storage_parameters',
  'tablespace',
  'collate',
  'sort',
  'sequence_options',
  'expression',
  'index_method',
  'elements',
  'method',
]);

export function pgrollForms(kind: string, body: unknown): unknown {
  if (!isPlainObject(body)) return body;
  let out = withoutEmptyText(body, kind === 'sql' ? new Set(['up']) : new Set());
  if (kind === 'create_index' && isPlainObject(out) && 'columns' in out) out = { ...out, columns: indexColumnsAsList(out['columns']) };
  if (kind === 'create_constraint' && isPlainObject(out) && isPlainObject(out['references']) && 'name' in out['references']) {
    // pgroll's create_constraint documentation shows a `references.name`; the constraint's own
    // `name` is the one used (its JSON Schema has no such field), so it is dropped.
    const { name: _unused, ...references } = out['references'];
    out = { ...out, references };
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Drops `key: ""` for the fields above, at any depth, and "" values of up/down maps. */
function withoutEmptyText(value: unknown, keepAtTop: Set<string>, depth = 0): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutEmptyText(v, new Set(), depth + 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === '' && EMPTY_MEANS_ABSENT.has(key) && !(depth === 0 && keepAtTop.has(key))) continue;
    if ((key === 'up' || key === 'down') && isPlainObject(v)) {
      // create_constraint / drop_multicolumn_constraint: column → expression.
      out[key] = Object.fromEntries(Object.entries(v).filter(([, e]) => e !== ''));
      continue;
    }
    out[key] = withoutEmptyText(v, new Set(), depth + 1);
  }
  return out;
}

/** create_index columns in any of pgroll's forms, as a list of { column, …settings }. */
function indexColumnsAsList(columns: unknown): unknown {
  if (Array.isArray(columns)) return columns.map((c) => (typeof c === 'string' ? { column: c } : c));
  if (isPlainObject(columns)) {
    // YAML and JSON objects keep their keys in file order (names are not integer-like keys).
    return Object.entries(columns).map(([column, settings]) => ({ column, ...(isPlainObject(settings) ? settings : {}) }));
  }
  return columns;
}
