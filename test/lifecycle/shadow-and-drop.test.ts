/**
 * A column changed through a shadow and, in the same migration, another column dropped, on a table
 * with indexes and constraints over both: as in PostgreSQL, dropping a column drops the indexes and
 * constraints that use it, so the shadow gets no copy of them (complete would find the copy dropped
 * with the column); the old version keeps the originals until complete. The indexes and
 * constraints over surviving columns only are copied and come back under their names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { assertNoTandemLeftovers, type Env, migration, newVersion, run, runComplete, runRollback, snapshot, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE t (
    id integer PRIMARY KEY, a text, b text, c text,
    CONSTRAINT t_a_b_key UNIQUE (a, b),
    CONSTRAINT t_a_b_check CHECK (a IS DISTINCT FROM b),
    CONSTRAINT t_a_check CHECK (a <> '')
  );
  CREATE INDEX t_a_b ON t (a, b);
  CREATE INDEX t_b_a ON t (b, a);
  CREATE INDEX t_a_c ON t (a, c);
  CREATE INDEX t_b ON t (b);
  CREATE INDEX t_a_lower_b ON t (a, lower(b));
  CREATE INDEX t_c_where ON t (c) WHERE a <> b;
  CREATE INDEX t_a_where ON t (a) WHERE b IS NOT NULL;
  INSERT INTO t SELECT g, 'a' || g, 'b' || g, 'c' || g FROM generate_series(1, 50) g;
`;

const alterA = { alter_column: { table: 't', column: 'a', type: 'varchar(40)', up: 'CAST(a AS varchar(40))', down: 'CAST(a AS text)' } };
const alterB = { alter_column: { table: 't', column: 'b', type: 'varchar(40)', up: 'CAST(b AS varchar(40))', down: 'CAST(b AS text)' } };
const aNotNull = { alter_column: { table: 't', column: 'a', nullable: false, up: "coalesce(a, 'none')" } };
const dropB = (column = 'b') => ({ drop_column: { table: 't', column, down: "'from-new'" } });

interface Case {
  name: string;
  operations: unknown[];
  /** Columns of the new version. */
  newColumns: string[];
  /** Final indexes: name → indexed columns (expressions as 0-width: their column list). */
  indexes: Record<string, string[]>;
  /** Final constraints: name → type. */
  constraints: Record<string, string>;
}

/** Only what uses neither b nor anything dropped is left; what used a is on the new a. */
const withoutB = {
  indexes: { t_pkey: ['id'], t_a_c: ['a', 'c'] },
  constraints: { t_pkey: 'p', t_a_check: 'c' },
};

const cases: Case[] = [
  { name: 'alter_column a (type), then drop_column b', operations: [alterA, dropB()], newColumns: ['id', 'a', 'c'], ...withoutB },
  { name: 'drop_column b, then alter_column a (type)', operations: [dropB(), alterA], newColumns: ['id', 'a', 'c'], ...withoutB },
  {
    name: 'alter_column a (NOT NULL), rename_column b to d, drop_column d',
    operations: [aNotNull, { rename_column: { table: 't', from: 'b', to: 'd' } }, dropB('d')],
    newColumns: ['id', 'a', 'c'],
    ...withoutB,
  },
  {
    name: 'alter_column a and b (type), then drop_column b',
    operations: [alterA, alterB, dropB()],
    newColumns: ['id', 'a', 'c'],
    ...withoutB,
  },
  {
    name: 'alter_column a (type), then drop_column a',
    operations: [alterA, { drop_column: { table: 't', column: 'a' } }],
    newColumns: ['id', 'b', 'c'],
    indexes: { t_pkey: ['id'], t_b: ['b'] },
    constraints: { t_pkey: 'p' },
  },
  {
    name: 'alter_column a and b (type), then drop_column a',
    operations: [alterA, alterB, { drop_column: { table: 't', column: 'a' } }],
    newColumns: ['id', 'b', 'c'],
    indexes: { t_pkey: ['id'], t_b: ['b'] },
    constraints: { t_pkey: 'p' },
  },
];

async function indexes(client: pg.Client): Promise<Record<string, string[]>> {
  const r = await client.query<{ name: string; columns: string[] }>(
    `SELECT ic.relname::text AS name,
            coalesce(array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord), '{}') AS columns
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = 'public.t'::regclass ORDER BY 1`,
  );
  return Object.fromEntries(r.rows.map((x) => [x.name, x.columns]));
}

/** The table's constraints by name (NOT NULL ones aside: PostgreSQL 18 lists them too, as contype 'n'). */
async function constraints(client: pg.Client): Promise<Record<string, string>> {
  const r = await client.query<{ conname: string; contype: string }>(
    `SELECT conname::text, contype::text FROM pg_constraint WHERE conrelid = 'public.t'::regclass AND contype <> 'n' ORDER BY 1`,
  );
  return Object.fromEntries(r.rows.map((x) => [x.conname, x.contype]));
}

async function viewColumns(client: pg.Client, schema: string): Promise<string[]> {
  const r = await client.query<{ column_name: string }>(
    `SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = 't' ORDER BY ordinal_position`,
    [schema],
  );
  return r.rows.map((x) => x.column_name);
}

/** Writes through both versions while the migration is in progress. */
async function writeThroughBoth(env: Env, c: Case, versionSchema: string): Promise<void> {
  // The old version: its unique (a, b) still holds, on its own columns.
  await env.old.query(`INSERT INTO t (id, a, b, c) VALUES (101, 'old', 'ob', 'oc')`);
  await env.old.query(`UPDATE t SET a = 'upd', b = 'ub' WHERE id = 1`);
  await assert.rejects(env.old.query(`INSERT INTO t (id, a, b, c) VALUES (102, 'old', 'ob', 'x')`), { code: '23505' });
  const nv = await newVersion(env.db, versionSchema);
  try {
    assert.deepEqual(await viewColumns(env.old, versionSchema), c.newColumns);
    const cols = c.newColumns.filter((x) => x !== 'id');
    const values = cols.map((x) => `'new-${x}'`).join(', ');
    await nv.query(`INSERT INTO t (id, ${cols.join(', ')}) VALUES (201, ${values})`);
    await nv.query(`UPDATE t SET ${cols.map((x) => `${x} = 'nu-${x}'`).join(', ')} WHERE id = 2`);
    const row = (await nv.query(`SELECT * FROM t WHERE id = 201`)).rows[0] as Record<string, unknown>;
    for (const x of cols) assert.equal(row[x], `new-${x}`);
    // The old version reads what the new one wrote.
    const old = (await env.old.query(`SELECT * FROM t WHERE id IN (101, 201) ORDER BY id`)).rows as Record<string, unknown>[];
    assert.equal(old.length, 2);
    for (const x of cols) assert.equal(old[1]![x], `new-${x}`);
  } finally {
    await nv.end();
  }
}

describe('shadow column and a dropped column sharing indexes and constraints', () => {
  for (const c of cases) {
    test(`${c.name}: start, writes through both versions, complete`, async () => {
      await withDatabase(SETUP, async (env) => {
        const m = migration({ name: 'm1', operations: c.operations });
        const originals = { indexes: await indexes(env.old), constraints: await constraints(env.old) };
        await run(env, m);
        // During the migration the old version keeps every original; copies are made only of
        // what outlives the migration.
        const during = { indexes: await indexes(env.old), constraints: await constraints(env.old) };
        for (const kind of ['indexes', 'constraints'] as const) {
          for (const [name, value] of Object.entries(originals[kind])) assert.deepEqual(during[kind][name], value, `${name} during the migration`);
          const copies = Object.keys(during[kind]).filter((n) => n.startsWith('_tandem_') && !n.startsWith('_tandem_not_null_'));
          assert.deepEqual(
            copies.filter((n) => !(n.slice('_tandem_'.length) in c[kind])),
            [],
            `copies of ${kind} that the migration drops`,
          );
        }
        await writeThroughBoth(env, c, 'public_m1');
        await runComplete(env);
        assert.deepEqual(await indexes(env.old), c.indexes);
        assert.deepEqual(await constraints(env.old), c.constraints);
        await assertNoTandemLeftovers(env.old, 't');
        const cols = c.newColumns.filter((x) => x !== 'id');
        const rows = (await env.old.query(`SELECT * FROM t WHERE id IN (1, 2, 101, 201) ORDER BY id`)).rows as Record<string, unknown>[];
        // A swapped-in shadow is the table's last column.
        assert.deepEqual(Object.keys(rows[0]!).sort(), [...c.newColumns].sort());
        for (const x of cols) {
          assert.equal(rows[1]![x], `nu-${x}`);
          assert.equal(rows[3]![x], `new-${x}`);
        }
        if (cols.includes('a')) {
          assert.equal(rows[0]!.a, 'upd');
          assert.equal(rows[2]!.a, 'old');
        }
      });
    });

    test(`${c.name}: start, rollback leaves the catalog as it was`, async () => {
      await withDatabase(SETUP, async (env) => {
        const before = await snapshot(env);
        const m = migration({ name: 'm1', operations: c.operations });
        await run(env, m);
        await runRollback(env);
        assert.deepEqual(await snapshot(env), before);
      });
    });
  }
});
