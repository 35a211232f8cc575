/**
 * The operations the zero-downtime benchmark runs, one scenario each, all on the same starting
 * table (`items`, N rows, plus `parents` for foreign keys). A scenario says:
 *   - the migration (pgroll format),
 *   - which columns each application version reads and writes, and how it generates values,
 *   - `toNew` / `toOld`: what the sync trigger makes of a row written by the other version (the
 *     JavaScript mirror of the migration's `up` / `down`), so that the ledger knows what every
 *     acknowledged write must look like after complete and after rollback,
 *   - the plain `ALTER TABLE` (or CREATE INDEX …) that the operation replaces, to measure its stall.
 */

// Values, rows and column generators are the traffic generator's (src/traffic/workload.ts).
import type { ColumnSpec, GenContext, Row, TrafficShape, Value } from '../../src/traffic/workload.js';
export type { ColumnSpec, GenContext, Row, Value };

/**
 * How the plain statement compares: `rewrite`/`scan`/`build` hold a lock that blocks traffic for
 * a time proportional to the table; `metadata` is already instant (ratio not meaningful); `none`
 * touches no existing table.
 */
export type PlainKind = 'rewrite' | 'scan' | 'build' | 'metadata' | 'none';

export interface PlainSpec {
  kind: PlainKind;
  /** Run in one transaction while old-version clients run; its duration is the stall. */
  sql: string[];
  /** Run before the clients start (untimed): makes the data acceptable to the plain statement. */
  prepare?: string[];
}

/** What the schema must look like after complete (checked against the catalog). */
export interface FinalShape {
  /** Column → "type" or "type not null" on the final table; null: the column must not exist. */
  columns?: Record<string, string | null>;
  /** Constraints (validated) or indexes (valid) that must exist. */
  present?: string[];
  /** Constraints, indexes or relations that must not exist. */
  absent?: string[];
  /** pg_class.relreplident of the final table. */
  replicaIdentity?: 'd' | 'f' | 'n' | 'i';
}

export interface Scenario {
  key: string;
  title: string;
  operations: unknown[];
  /** Table name the new version uses; null when the new version has no such table (drop_table). */
  newTable: string | null;
  /** Physical table after complete; null when complete drops it. */
  finalTable: string | null;
  oldColumns: ColumnSpec[];
  newColumns: ColumnSpec[];
  /** A row as the old version wrote it, as the new version (and the table after complete) sees it. */
  toNew(o: Row): Row;
  /** A row as the new version wrote it, as the old version (and the table after rollback) sees it. */
  toOld(n: Row): Row;
  final: FinalShape;
  plain: PlainSpec;
  /** What the narrowed sync trigger watches and computes (TrafficShape.sync). */
  sync?: TrafficShape['sync'];
}

export const PARENTS = 1000;

/** The starting schema. `items` has a check on `amount` and an index on `tag` for the drop operations. */
export const schemaSql = [
  `CREATE TABLE parents (id bigint PRIMARY KEY, name text NOT NULL)`,
  `INSERT INTO parents SELECT g, 'p' || g FROM generate_series(1, ${PARENTS}) g`,
  `CREATE TABLE items (
     id bigint PRIMARY KEY,
     label text NOT NULL,
     code text NOT NULL,
     note text,
     qty integer NOT NULL,
     sku text NOT NULL,
     parent_id bigint NOT NULL,
     amount integer NOT NULL CONSTRAINT items_amount_check CHECK (amount >= 0),
     legacy text,
     tag text NOT NULL)`,
];

/** Rows 1..N of `items`, in SQL (loaded once into the template database) … */
export const seedSql = (from: number, to: number) => `
  INSERT INTO items (id, label, code, note, qty, sku, parent_id, amount, legacy, tag)
  SELECT g, 'L' || g, ((g * 7) % 100000)::text, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END,
         (g * 13) % 1000, 'sku' || g, (g % ${PARENTS}) + 1, (g * 3) % 500, 'lg' || g, 't' || (g % 100)
    FROM generate_series(${from}, ${to}) g`;

export const afterSeedSql = [`CREATE INDEX items_tag_idx ON items (tag)`];

/** … and the same rows in JavaScript, as the old version sees them. */
export function seedRow(g: number): Row {
  return {
    label: `L${g}`,
    code: String((g * 7) % 100000),
    note: g % 5 === 0 ? null : `n${g}`,
    qty: (g * 13) % 1000,
    sku: `sku${g}`,
    parent_id: (g % PARENTS) + 1,
    amount: (g * 3) % 500,
    legacy: `lg${g}`,
    tag: `t${g % 100}`,
  };
}

/** Values the old version writes. Unless `valid`, some violate the constraints the migrations add (their `up` maps them). */
const oldGen: Record<string, (g: GenContext) => Value> = {
  label: (g) => `L-${g.tag}`,
  code: (g) => String((g.n * 7919) % 100000),
  note: (g) => (!g.valid && g.n % 6 === 1 ? null : `n-${g.tag}`),
  qty: (g) => (!g.valid && g.n % 10 === 3 ? -((g.n % 50) + 1) : (g.n * 13) % 1000),
  sku: (g) => `sku-${g.tag}`,
  parent_id: (g) => (g.n % PARENTS) + 1,
  amount: (g) => (g.n * 3) % 500,
  legacy: (g) => `lg-${g.tag}`,
  tag: (g) => `t${g.n % 100}`,
};
const baseNames = ['label', 'code', 'note', 'qty', 'sku', 'parent_id', 'amount', 'legacy', 'tag'];
const oldColumns: ColumnSpec[] = baseNames.map((name) => ({ name, gen: oldGen[name]! }));

/** The new version's columns: the old ones, some replaced, some removed, some added. */
function newColumns(opts: { replace?: Record<string, ColumnSpec>; remove?: string[]; add?: ColumnSpec[] } = {}): ColumnSpec[] {
  const out: ColumnSpec[] = [];
  for (const c of oldColumns) {
    if (opts.remove?.includes(c.name)) continue;
    out.push(opts.replace?.[c.name] ?? c);
  }
  return [...out, ...(opts.add ?? [])];
}

const identity = (r: Row): Row => ({ ...r });

/** A column kept in a shadow under the same name: each version's writes of it fire the trigger, which computes it for the other. */
const shadowed = (column: string): NonNullable<TrafficShape['sync']> => ({ watched: { old: [column], new: [column] }, derived: { old: [column], new: [column] } });

/** Scenarios that leave `items` with the same columns and values in both versions. */
function itemsUnchanged() {
  return { newTable: 'items', finalTable: 'items', oldColumns, newColumns: newColumns(), toNew: identity, toOld: identity };
}
const without = (r: Row, key: string): Row => {
  const { [key]: _dropped, ...rest } = r;
  return rest;
};
const renamed = (r: Row, from: string, to: string): Row => {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) out[k === from ? to : k] = v;
  return out;
};
/** The new version never writes a negative quantity or a NULL note. */
const validQty: ColumnSpec = { name: 'qty', gen: (g) => (g.n * 17) % 1000 };
const validNote: ColumnSpec = { name: 'note', gen: (g) => `nn-${g.tag}` };

export const scenarios: Scenario[] = [
  {
    key: 'add_column',
    title: 'add_column score integer NOT NULL, up: length(label) + qty',
    operations: [{ add_column: { table: 'items', column: { name: 'score', type: 'integer' }, up: 'length(label) + qty' } }],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    newColumns: newColumns({ add: [{ name: 'score', gen: (g) => (g.n * 11) % 1000 }] }),
    toNew: (o) => ({ ...o, score: String(o['label']).length + Number(o['qty']) }),
    toOld: (n) => without(n, 'score'),
    sync: { watched: { old: ['label', 'qty'], new: ['label', 'qty', 'score'] }, derived: { old: [], new: ['score'] } },
    final: { columns: { score: 'integer not null' }, absent: ['_tandem_not_null_score'] },
    plain: { kind: 'rewrite', sql: [`ALTER TABLE items ADD COLUMN score integer NOT NULL DEFAULT (random() * 1000)::integer`] },
  },
  {
    key: 'drop_column',
    title: "drop_column legacy, down: 'd:' || label",
    operations: [{ drop_column: { table: 'items', column: 'legacy', down: "'d:' || label" } }],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    newColumns: newColumns({ remove: ['legacy'] }),
    toNew: (o) => without(o, 'legacy'),
    toOld: (n) => ({ ...n, legacy: `d:${String(n['label'])}` }),
    sync: { watched: { old: ['label', 'legacy'], new: ['label'] }, derived: { old: ['legacy'], new: [] } },
    final: { columns: { legacy: null } },
    plain: { kind: 'metadata', sql: [`ALTER TABLE items DROP COLUMN legacy`] },
  },
  {
    key: 'rename_column',
    title: 'rename_column label → title',
    operations: [{ rename_column: { table: 'items', from: 'label', to: 'title' } }],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    newColumns: newColumns({ replace: { label: { name: 'title', gen: (g) => `T-${g.tag}` } } }),
    toNew: (o) => renamed(o, 'label', 'title'),
    toOld: (n) => renamed(n, 'title', 'label'),
    final: { columns: { title: 'text not null', label: null } },
    plain: { kind: 'metadata', sql: [`ALTER TABLE items RENAME COLUMN label TO title`] },
  },
  {
    key: 'alter_column_type',
    title: 'alter_column code text → integer',
    operations: [{ alter_column: { table: 'items', column: 'code', type: 'integer', up: 'CAST(code AS integer)', down: 'CAST(code AS text)' } }],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    newColumns: newColumns({ replace: { code: { name: 'code', gen: (g) => (g.n * 104729) % 100000 } } }),
    toNew: (o) => ({ ...o, code: Number(o['code']) }),
    toOld: (n) => ({ ...n, code: String(n['code']) }),
    sync: shadowed('code'),
    final: { columns: { code: 'integer not null' } },
    plain: { kind: 'rewrite', sql: [`ALTER TABLE items ALTER COLUMN code TYPE integer USING code::integer`] },
  },
  {
    key: 'alter_column_nullable',
    title: "alter_column note SET NOT NULL, up: coalesce(note, 'none')",
    operations: [{ alter_column: { table: 'items', column: 'note', nullable: false, up: "coalesce(note, 'none')" } }],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    newColumns: newColumns({ replace: { note: validNote } }),
    toNew: (o) => ({ ...o, note: o['note'] ?? 'none' }),
    toOld: identity,
    sync: shadowed('note'),
    final: { columns: { note: 'text not null' } },
    plain: {
      kind: 'scan',
      prepare: [`UPDATE items SET note = 'none' WHERE note IS NULL`, `VACUUM ANALYZE items`],
      sql: [`ALTER TABLE items ALTER COLUMN note SET NOT NULL`],
    },
  },
  {
    key: 'alter_column_check',
    title: 'alter_column qty add check (qty >= 0), up: greatest(qty, 0)',
    operations: [{ alter_column: { table: 'items', column: 'qty', check: { name: 'items_qty_nonneg', constraint: 'qty >= 0' }, up: 'greatest(qty, 0)', down: 'qty' } }],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    newColumns: newColumns({ replace: { qty: validQty } }),
    toNew: (o) => ({ ...o, qty: Math.max(Number(o['qty']), 0) }),
    toOld: identity,
    sync: shadowed('qty'),
    final: { present: ['items_qty_nonneg'], columns: { qty: 'integer not null' } },
    plain: { kind: 'scan', sql: [`ALTER TABLE items ADD CONSTRAINT items_qty_nonneg CHECK (qty >= 0)`] },
  },
  {
    key: 'alter_column_unique',
    title: 'alter_column sku add unique',
    operations: [{ alter_column: { table: 'items', column: 'sku', unique: { name: 'items_sku_key' } } }],
    ...itemsUnchanged(),
    final: { present: ['items_sku_key'], columns: { sku: 'text not null' } },
    plain: { kind: 'build', sql: [`ALTER TABLE items ADD CONSTRAINT items_sku_key UNIQUE (sku)`] },
  },
  {
    key: 'alter_column_references',
    title: 'alter_column parent_id add references parents(id)',
    operations: [
      {
        alter_column: {
          table: 'items',
          column: 'parent_id',
          references: { name: 'items_parent_fk', table: 'parents', column: 'id' },
          up: 'parent_id',
          down: 'parent_id',
        },
      },
    ],
    ...itemsUnchanged(),
    final: { present: ['items_parent_fk'], columns: { parent_id: 'bigint not null' } },
    plain: { kind: 'scan', sql: [`ALTER TABLE items ADD CONSTRAINT items_parent_fk FOREIGN KEY (parent_id) REFERENCES parents (id)`] },
  },
  {
    key: 'create_index',
    title: 'create_index items_qty_idx (qty)',
    operations: [{ create_index: { name: 'items_qty_idx', table: 'items', columns: [{ column: 'qty' }] } }],
    ...itemsUnchanged(),
    final: { present: ['items_qty_idx'] },
    plain: { kind: 'build', sql: [`CREATE INDEX items_qty_idx ON items (qty)`] },
  },
  {
    key: 'drop_index',
    title: 'drop_index items_tag_idx',
    operations: [{ drop_index: { name: 'items_tag_idx' } }],
    ...itemsUnchanged(),
    final: { absent: ['items_tag_idx'] },
    plain: { kind: 'metadata', sql: [`DROP INDEX items_tag_idx`] },
  },
  {
    key: 'create_constraint_check',
    title: 'create_constraint check (qty >= 0), up: greatest(qty, 0)',
    operations: [
      {
        create_constraint: {
          table: 'items',
          name: 'items_qty_nonneg',
          type: 'check',
          columns: ['qty'],
          check: 'qty >= 0',
          up: { qty: 'greatest(qty, 0)' },
          down: { qty: 'qty' },
        },
      },
    ],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    newColumns: newColumns({ replace: { qty: validQty } }),
    toNew: (o) => ({ ...o, qty: Math.max(Number(o['qty']), 0) }),
    toOld: identity,
    sync: shadowed('qty'),
    final: { present: ['items_qty_nonneg'], columns: { qty: 'integer not null' } },
    plain: { kind: 'scan', sql: [`ALTER TABLE items ADD CONSTRAINT items_qty_nonneg CHECK (qty >= 0)`] },
  },
  {
    key: 'create_constraint_unique',
    title: 'create_constraint unique (sku)',
    operations: [{ create_constraint: { table: 'items', name: 'items_sku_key', type: 'unique', columns: ['sku'] } }],
    ...itemsUnchanged(),
    final: { present: ['items_sku_key'], columns: { sku: 'text not null' } },
    plain: { kind: 'build', sql: [`ALTER TABLE items ADD CONSTRAINT items_sku_key UNIQUE (sku)`] },
  },
  {
    key: 'create_constraint_foreign_key',
    title: 'create_constraint foreign key (parent_id) → parents(id)',
    operations: [
      {
        create_constraint: {
          table: 'items',
          name: 'items_parent_fk',
          type: 'foreign_key',
          columns: ['parent_id'],
          references: { table: 'parents', columns: ['id'] },
        },
      },
    ],
    ...itemsUnchanged(),
    final: { present: ['items_parent_fk'], columns: { parent_id: 'bigint not null' } },
    plain: { kind: 'scan', sql: [`ALTER TABLE items ADD CONSTRAINT items_parent_fk FOREIGN KEY (parent_id) REFERENCES parents (id)`] },
  },
  {
    key: 'drop_constraint',
    title: 'drop_constraint items_amount_check, down: greatest(amount, 0)',
    operations: [{ drop_constraint: { table: 'items', name: 'items_amount_check', down: 'greatest(amount, 0)' } }],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    // The new version may write negative amounts; the old version still sees them clamped.
    newColumns: newColumns({ replace: { amount: { name: 'amount', gen: (g) => (g.n % 7 === 2 ? -((g.n % 40) + 1) : (g.n * 3) % 500) } } }),
    toNew: identity,
    toOld: (n) => ({ ...n, amount: Math.max(Number(n['amount']), 0) }),
    sync: shadowed('amount'),
    final: { absent: ['items_amount_check'], columns: { amount: 'integer not null' } },
    plain: { kind: 'metadata', sql: [`ALTER TABLE items DROP CONSTRAINT items_amount_check`] },
  },
  {
    key: 'rename_constraint',
    title: 'rename_constraint items_amount_check → items_amount_nonneg',
    operations: [{ rename_constraint: { table: 'items', from: 'items_amount_check', to: 'items_amount_nonneg' } }],
    ...itemsUnchanged(),
    final: { present: ['items_amount_nonneg'], absent: ['items_amount_check'] },
    plain: { kind: 'metadata', sql: [`ALTER TABLE items RENAME CONSTRAINT items_amount_check TO items_amount_nonneg`] },
  },
  {
    key: 'rename_table',
    title: 'rename_table items → products',
    operations: [{ rename_table: { from: 'items', to: 'products' } }],
    newTable: 'products',
    finalTable: 'products',
    oldColumns,
    newColumns: newColumns(),
    toNew: identity,
    toOld: identity,
    final: { absent: ['items'], present: ['items_pkey'] },
    plain: { kind: 'metadata', sql: [`ALTER TABLE items RENAME TO products`] },
  },
  {
    key: 'drop_table',
    title: 'drop_table items (old version only until complete)',
    operations: [{ drop_table: { name: 'items' } }],
    newTable: null,
    finalTable: null,
    oldColumns,
    newColumns: [],
    toNew: identity,
    toOld: identity,
    final: { absent: ['items'] },
    plain: { kind: 'metadata', sql: [`DROP TABLE items`] },
  },
  {
    key: 'set_replica_identity',
    title: 'set_replica_identity items FULL',
    operations: [{ set_replica_identity: { table: 'items', identity: { type: 'FULL', index: '' } } }],
    ...itemsUnchanged(),
    final: { replicaIdentity: 'f' },
    plain: { kind: 'metadata', sql: [`ALTER TABLE items REPLICA IDENTITY FULL`] },
  },
  {
    key: 'create_table',
    title: 'create_table events',
    operations: [
      {
        create_table: {
          name: 'events',
          columns: [
            { name: 'id', type: 'bigint', pk: true },
            { name: 'item_id', type: 'bigint' },
            { name: 'what', type: 'text', nullable: true },
          ],
        },
      },
    ],
    ...itemsUnchanged(),
    final: { present: ['events', 'events_pkey'] },
    plain: { kind: 'none', sql: [`CREATE TABLE events (id bigint PRIMARY KEY, item_id bigint NOT NULL, what text)`] },
  },
  {
    key: 'sql',
    title: 'sql: ALTER TABLE items ADD COLUMN flags integer NOT NULL DEFAULT 0 (down: DROP COLUMN)',
    operations: [{ sql: { up: 'ALTER TABLE items ADD COLUMN flags integer NOT NULL DEFAULT 0', down: 'ALTER TABLE items DROP COLUMN flags' } }],
    newTable: 'items',
    finalTable: 'items',
    oldColumns,
    // Raw SQL has no sync trigger: the new version reads the new column and leaves it to its default.
    newColumns: newColumns({ add: [{ name: 'flags', gen: () => 0, readOnly: true }] }),
    toNew: (o) => ({ ...o, flags: 0 }),
    toOld: (n) => without(n, 'flags'),
    final: { columns: { flags: 'integer not null' } },
    plain: { kind: 'metadata', sql: [`ALTER TABLE items ADD COLUMN flags integer NOT NULL DEFAULT 0`] },
  },
];

export function findScenarios(keys: string[] | undefined): Scenario[] {
  if (!keys || keys.length === 0) return scenarios;
  return keys.map((k) => {
    const s = scenarios.find((x) => x.key === k);
    if (!s) throw new Error(`unknown operation "${k}"; known: ${scenarios.map((x) => x.key).join(', ')}`);
    return s;
  });
}
