import type { OperationEntry } from './convert.js';

/**
 * The operations of one SQL file, split into migrations that `tandem start` accepts, in order.
 *
 * A migration is checked against the schema as it was before it (its operations chain on the
 * model, but the physical schema only changes at complete), so some sequences the SQL runs one
 * after the other cannot share a migration: a raw `sql` operation must be alone (with other `sql`
 * ones); a column renamed or dropped keeps its physical name until complete, so adding one of that
 * name must wait; a table created here cannot be dropped or renamed here; an index created here
 * cannot be dropped here… Rather than predict each rule, a new migration starts whenever an
 * operation touches a table (or index) the current one already touches, with the combinations
 * that are known to work kept together:
 * - operations on a table the same migration creates that start applies directly with its
 *   CREATE TABLE (create_index, create_constraint), and foreign keys to it;
 * - several add_column (distinct columns) on one table (a create_constraint on a column added
 *   in the same migration is refused: an ADD COLUMN … UNIQUE becomes two migrations);
 * - several alter_column of one column (the sync trigger composes them).
 * Consecutive `sql` operations stay together.
 */

interface Touch {
  /** Tables (and `index:<name>` keys) the operation changes. */
  keys: string[];
  /** Tables it only references (a foreign key's target). */
  refs: string[];
  kind: string;
  /** The column of add_column / alter_column. */
  column?: string;
}

function touchOf(entry: OperationEntry): Touch {
  const [kind, raw] = Object.entries(entry)[0]! as [string, Record<string, unknown>];
  const body = raw;
  const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
  const refs: string[] = [];
  const fkTarget = (r: unknown) => {
    const t = (r as { table?: unknown } | undefined)?.table;
    if (typeof t === 'string') refs.push(t);
  };
  switch (kind) {
    case 'create_table': {
      for (const c of (body['columns'] as { references?: unknown }[] | undefined) ?? []) fkTarget(c.references);
      for (const c of (body['constraints'] as { references?: unknown }[] | undefined) ?? []) fkTarget(c.references);
      return { kind, keys: [str('name')!], refs };
    }
    case 'rename_table':
      return { kind, keys: [str('from')!, str('to')!], refs };
    case 'drop_table':
      return { kind, keys: [str('name')!], refs };
    case 'drop_index':
      return { kind, keys: [`index:${str('name')!}`], refs };
    case 'create_index':
      return { kind, keys: [str('table')!, `index:${str('name')!}`], refs };
    case 'add_column': {
      const column = body['column'] as { name: string; references?: unknown };
      fkTarget(column.references);
      return { kind, keys: [str('table')!], refs, column: column.name };
    }
    case 'alter_column':
      fkTarget(body['references']);
      return { kind, keys: [str('table')!], refs, column: str('column')! };
    case 'create_constraint':
      fkTarget(body['references']);
      return { kind, keys: [str('table')!], refs };
    default:
      return { kind, keys: str('table') !== undefined ? [str('table')!] : [], refs };
  }
}

class Group {
  readonly indexes: number[] = [];
  /** Table → the touches of this group on it. */
  readonly touched = new Map<string, Touch[]>();
  /** Tables this group creates. */
  readonly created = new Set<string>();
  constructor(readonly raw: boolean) {}

  /** Whether `t` can join this group. */
  accepts(t: Touch): boolean {
    for (const key of t.keys) {
      const before = this.touched.get(key);
      if (!before) continue;
      if (this.created.has(key)) {
        if (t.kind !== 'create_index' && t.kind !== 'create_constraint') return false;
        continue;
      }
      if (!before.every((b) => compatible(b, t))) return false;
    }
    // A foreign key may point at a table of this migration only if the migration creates it.
    return t.refs.every((r) => !this.touched.has(r) || this.created.has(r));
  }

  add(index: number, t: Touch): void {
    this.indexes.push(index);
    if (t.kind === 'create_table') this.created.add(t.keys[0]!);
    for (const key of [...t.keys, ...t.refs]) this.touched.set(key, [...(this.touched.get(key) ?? []), t]);
  }
}

/** Two operations on one existing table that one migration runs as the SQL did. */
function compatible(before: Touch, next: Touch): boolean {
  if (before.kind === 'add_column' && next.kind === 'add_column') return before.column !== next.column;
  if (before.kind === 'alter_column' && next.kind === 'alter_column') return before.column === next.column;
  return false;
}

/** Groups of operation indexes, in order; each group is one migration. */
export function splitOperations(ops: readonly OperationEntry[]): number[][] {
  const groups: Group[] = [];
  ops.forEach((entry, i) => {
    const raw = 'sql' in entry;
    const touch = touchOf(entry);
    let g = groups[groups.length - 1];
    if (!g || g.raw !== raw || (!raw && !g.accepts(touch))) groups.push((g = new Group(raw)));
    g.add(i, touch);
  });
  return groups.map((g) => g.indexes);
}
