/**
 * SQL fragments of a migration (CHECK expressions, raw SQL, foreign-key targets, index
 * collations / operator classes / predicates / storage parameters, types, up/down/defaults) are
 * checked before any change: each malformed file is exit 2 with a typed code and the exact
 * field, and the database is left as it was (no `tandem` schema, catalog identical).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { plan, start } from '../../src/engine/lifecycle.js';
import { InvalidInputError } from '../../src/errors.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { ident } from '../../src/sql/ident.js';
import { engineOptions, migration, tempDir } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, email text, code text, age integer, seen timestamptz);
  CREATE UNIQUE INDEX users_email_key ON users (email);
  INSERT INTO users SELECT g, 'User' || g, 'u' || g || '@x.io', g::text, g, now() FROM generate_series(1, 20) g;
  CREATE TABLE orders (id bigint PRIMARY KEY, user_id integer, note text);
  INSERT INTO orders SELECT g, g, 'n' || g FROM generate_series(1, 5) g;
  CREATE AGGREGATE my_sum (integer) (sfunc = int4pl, stype = integer);
  CREATE FUNCTION my_rows() RETURNS SETOF integer LANGUAGE sql AS 'SELECT 1';
`;

interface Case {
  title: string;
  operations: unknown[];
  code: string;
  operationIndex?: number;
  field: string;
}

const addColumn = (column: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  add_column: { table: 'users', column: { name: 'x', type: 'integer', nullable: true, ...column }, ...extra },
});
const check = (constraint: string) => ({ name: 'x_check', constraint });

const cases: Case[] = [
  // CHECK expressions
  { title: 'add_column check that does not parse', operations: [addColumn({ check: check('x >') })], code: 'invalid-sql', field: 'column.check.constraint' },
  { title: 'add_column check naming a missing column', operations: [addColumn({ check: check('nope > 0') })], code: 'invalid-sql', field: 'column.check.constraint' },
  { title: 'add_column check that is not a boolean', operations: [addColumn({ check: check('x + 1') })], code: 'not-boolean', field: 'column.check.constraint' },
  { title: 'add_column check with a subquery', operations: [addColumn({ check: check('x > (SELECT 1)') })], code: 'subquery-not-allowed', field: 'column.check.constraint' },
  {
    title: 'add_column check smuggling an ALTER TABLE subcommand',
    operations: [addColumn({ check: check('true) NOT VALID, DROP CONSTRAINT users_pkey CASCADE, ADD CHECK (true') })],
    code: 'invalid-sql',
    field: 'column.check.constraint',
  },
  {
    title: 'alter_column check naming a missing column',
    operations: [{ alter_column: { table: 'users', column: 'age', check: check('nope > 0'), up: 'age', down: 'age' } }],
    code: 'invalid-sql',
    field: 'check.constraint',
  },
  {
    title: 'create_constraint check that is not a boolean',
    operations: [{ create_constraint: { table: 'users', name: 'c', type: 'check', columns: ['code'], check: 'code', up: { code: 'code' }, down: { code: 'code' } } }],
    code: 'not-boolean',
    field: 'check',
  },
  {
    title: 'create_table column check naming a missing column',
    operations: [
      {
        create_table: {
          name: 't1',
          columns: [
            { name: 'id', type: 'integer', pk: true },
            { name: 'v', type: 'integer', check: check('nope > 0') },
          ],
        },
      },
    ],
    code: 'invalid-sql',
    field: 'columns[1].check.constraint',
  },
  {
    title: 'create_table table check with an aggregate',
    operations: [{ create_table: { name: 't1', columns: [{ name: 'id', type: 'integer', pk: true }], constraints: [{ name: 'c', type: 'check', check: 'count(*) > 0' }] } }],
    code: 'aggregate-not-allowed',
    field: 'constraints[0].check',
  },
  {
    title: 'add_column check on a table created by the same migration',
    operations: [
      { create_table: { name: 't1', columns: [{ name: 'id', type: 'integer', pk: true }] } },
      { add_column: { table: 't1', column: { name: 'v', type: 'integer', nullable: true, check: check('nope > 0') } } },
    ],
    code: 'invalid-sql',
    operationIndex: 1,
    field: 'column.check.constraint',
  },
  {
    title: 'create_constraint foreign key on a table created by the same migration, to a missing table',
    operations: [
      {
        create_table: {
          name: 't1',
          columns: [
            { name: 'id', type: 'integer', pk: true },
            { name: 'u', type: 'integer' },
          ],
        },
      },
      { create_constraint: { table: 't1', name: 'fk', type: 'foreign_key', columns: ['u'], references: { table: 'nope', columns: ['id'] } } },
    ],
    code: 'referenced-table-not-found',
    operationIndex: 1,
    field: 'references.table',
  },
  // raw SQL
  { title: 'sql up that does not parse', operations: [{ sql: { up: 'CREATE TABEL t2 (id int)' } }], code: 'invalid-sql', field: 'up' },
  { title: 'sql down that does not parse', operations: [{ sql: { up: 'CREATE TABLE t2 (id int)', down: 'DROP TABEL t2' } }], code: 'invalid-sql', field: 'down' },
  // foreign keys
  {
    title: 'add_column references a missing table',
    operations: [addColumn({ references: { name: 'fk', table: 'nope', column: 'id' } })],
    code: 'referenced-table-not-found',
    field: 'column.references.table',
  },
  {
    title: 'add_column references a missing column',
    operations: [addColumn({ references: { name: 'fk', table: 'users', column: 'nope' } })],
    code: 'column-not-found',
    field: 'column.references.column',
  },
  {
    title: 'add_column references a column that is not a key',
    operations: [addColumn({ references: { name: 'fk', table: 'users', column: 'age' } })],
    code: 'referenced-key-not-unique',
    field: 'column.references.column',
  },
  {
    title: 'add_column references a key of another type',
    operations: [addColumn({ type: 'timestamptz', references: { name: 'fk', table: 'users', column: 'id' } })],
    code: 'invalid-field',
    field: 'column.references.column',
  },
  {
    title: 'create_constraint foreign key between columns of incomparable types',
    operations: [
      {
        create_constraint: {
          table: 'orders',
          name: 'fk',
          type: 'foreign_key',
          columns: ['note'],
          references: { table: 'users', columns: ['id'] },
          up: { note: 'note' },
          down: { note: 'note' },
        },
      },
    ],
    code: 'invalid-field',
    field: 'references.columns',
  },
  {
    title: 'alter_column references a column that is not a key',
    operations: [{ alter_column: { table: 'orders', column: 'user_id', references: { name: 'fk', table: 'users', column: 'age' }, up: 'user_id', down: 'user_id' } }],
    code: 'referenced-key-not-unique',
    field: 'references.column',
  },
  {
    title: 'create_constraint foreign key to a missing table',
    operations: [
      {
        create_constraint: {
          table: 'orders',
          name: 'fk',
          type: 'foreign_key',
          columns: ['user_id'],
          references: { table: 'nope', columns: ['id'] },
          up: { user_id: 'user_id' },
          down: { user_id: 'user_id' },
        },
      },
    ],
    code: 'referenced-table-not-found',
    field: 'references.table',
  },
  {
    title: 'create_constraint foreign key to columns that are not a key',
    operations: [
      {
        create_constraint: {
          table: 'orders',
          name: 'fk',
          type: 'foreign_key',
          columns: ['user_id'],
          references: { table: 'users', columns: ['age'] },
          up: { user_id: 'user_id' },
          down: { user_id: 'user_id' },
        },
      },
    ],
    code: 'referenced-key-not-unique',
    field: 'references.columns[0]',
  },
  {
    title: 'create_table references a non-key column of a table created just before',
    operations: [
      {
        create_table: {
          name: 'parents',
          columns: [
            { name: 'id', type: 'integer', pk: true },
            { name: 'label', type: 'text' },
          ],
        },
      },
      {
        create_table: {
          name: 'kids',
          columns: [
            { name: 'id', type: 'integer', pk: true },
            { name: 'parent', type: 'text', references: { name: 'fk', table: 'parents', column: 'label' } },
          ],
        },
      },
    ],
    code: 'referenced-key-not-unique',
    operationIndex: 1,
    field: 'columns[1].references.column',
  },
  // indexes
  {
    title: 'create_index with a missing collation',
    operations: [{ create_index: { name: 'i1', table: 'users', columns: [{ column: 'name', collate: 'no_such_collation' }] } }],
    code: 'collation-not-found',
    field: 'columns[0].collate',
  },
  {
    title: 'create_index with a missing operator class',
    operations: [{ create_index: { name: 'i1', table: 'users', columns: [{ column: 'name', opclass: { name: 'no_such_ops' } }] } }],
    code: 'opclass-not-found',
    field: 'columns[0].opclass.name',
  },
  {
    title: 'create_index with an operator class of another type',
    operations: [{ create_index: { name: 'i1', table: 'users', columns: [{ column: 'age', opclass: { name: 'text_pattern_ops' } }] } }],
    code: 'invalid-field',
    field: 'columns[0]',
  },
  {
    title: 'create_index predicate with a STABLE function',
    operations: [{ create_index: { name: 'i1', table: 'users', columns: [{ column: 'age' }], predicate: "seen > now() - interval '1 day'" } }],
    code: 'not-immutable',
    field: 'predicate',
  },
  {
    title: 'create_index with an unknown storage parameter',
    operations: [{ create_index: { name: 'i1', table: 'users', columns: [{ column: 'age' }], storage_parameters: 'no_such_parameter = 1' } }],
    code: 'invalid-storage-parameter',
    field: 'storage_parameters',
  },
  {
    title: 'create_index storage parameters smuggling a WHERE clause',
    operations: [{ create_index: { name: 'i1', table: 'users', columns: [{ column: 'age' }], storage_parameters: 'fillfactor = 70) WHERE (false' } }],
    code: 'invalid-storage-parameter',
    field: 'storage_parameters',
  },
  {
    title: 'create_index operator class parameters smuggling SQL',
    operations: [{ create_index: { name: 'i1', table: 'users', method: 'btree', columns: [{ column: 'name', opclass: { name: 'text_ops', params: ['x) WHERE (false'] } }] } }],
    code: 'invalid-storage-parameter',
    field: 'columns[0].opclass.params',
  },
  // defaults, up, down
  { title: 'add_column default with a subquery', operations: [addColumn({ default: '(SELECT 1)' })], code: 'subquery-not-allowed', field: 'column.default' },
  {
    title: 'add_column default with a set-returning function',
    operations: [addColumn({ default: 'generate_series(1, 2)' })],
    code: 'set-returning-not-allowed',
    field: 'column.default',
  },
  { title: 'add_column up with a set-returning function', operations: [addColumn({}, { up: 'generate_series(1, 2)' })], code: 'set-returning-not-allowed', field: 'up' },
  { title: 'add_column up with a user-defined set-returning function', operations: [addColumn({}, { up: 'my_rows()' })], code: 'set-returning-not-allowed', field: 'up' },
  {
    title: 'alter_column up with count(*)',
    operations: [{ alter_column: { table: 'users', column: 'age', type: 'bigint', up: 'count(*)', down: 'CAST(age AS integer)' } }],
    code: 'aggregate-not-allowed',
    field: 'up',
  },
  {
    title: 'alter_column up with a built-in aggregate',
    operations: [{ alter_column: { table: 'users', column: 'age', type: 'bigint', up: 'max(age)', down: 'CAST(age AS integer)' } }],
    code: 'aggregate-not-allowed',
    field: 'up',
  },
  {
    title: 'alter_column up with a user-defined aggregate',
    operations: [{ alter_column: { table: 'users', column: 'age', type: 'bigint', up: 'my_sum(age)', down: 'CAST(age AS integer)' } }],
    code: 'aggregate-not-allowed',
    field: 'up',
  },
  {
    title: 'alter_column down with a window function',
    operations: [{ alter_column: { table: 'users', column: 'age', type: 'bigint', up: 'age', down: 'CAST(row_number() OVER () AS integer)' } }],
    code: 'window-not-allowed',
    field: 'down',
  },
  // SQL smuggled through `type`
  { title: 'type "int UNIQUE"', operations: [addColumn({ type: 'int UNIQUE' })], code: 'invalid-type', field: 'column.type' },
  { title: 'type "text NOT NULL"', operations: [addColumn({ type: 'text NOT NULL' })], code: 'invalid-type', field: 'column.type' },
  { title: 'type "int CHECK (false)"', operations: [addColumn({ type: 'int CHECK (false)' })], code: 'invalid-type', field: 'column.type' },
  { title: 'type with a trailing comment', operations: [addColumn({ type: 'integer -- a comment' })], code: 'invalid-type', field: 'column.type' },
  {
    title: 'alter_column type "bigint DEFAULT 0"',
    operations: [{ alter_column: { table: 'users', column: 'age', type: 'bigint DEFAULT 0', up: 'age', down: 'CAST(age AS integer)' } }],
    code: 'invalid-type',
    field: 'type',
  },
  {
    title: 'create_table column type "int UNIQUE"',
    operations: [
      {
        create_table: {
          name: 't1',
          columns: [
            { name: 'id', type: 'integer', pk: true },
            { name: 'v', type: 'int UNIQUE' },
          ],
        },
      },
    ],
    code: 'invalid-type',
    field: 'columns[1].type',
  },
  {
    title: 'create_table constraint storage parameters smuggling SQL',
    operations: [
      {
        create_table: {
          name: 't1',
          columns: [{ name: 'id', type: 'integer' }],
          constraints: [{ name: 'u', type: 'unique', columns: ['id'], index_parameters: { storage_parameters: 'fillfactor = 70), CHECK (false' } }],
        },
      },
    ],
    code: 'invalid-storage-parameter',
    field: 'constraints[0].index_parameters.storage_parameters',
  },
];

async function stateSchemaExists(client: pg.Client): Promise<boolean> {
  return (await client.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'tandem'`)).rows[0].n === 1;
}

function expectInvalid(c: Case, file?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String((err as Error)?.stack ?? err)}`);
    assert.equal(err.code, c.code, err.message);
    assert.equal(err.location.operationIndex, c.operationIndex ?? 0, err.message);
    assert.equal(err.location.field, c.field, err.message);
    if (file !== undefined) assert.equal(err.location.file, file);
    return true;
  };
}

// The cases share one database, which none of them may change.
describe('invalid SQL fragments: exit 2 at the field, nothing changed', { concurrency: 1 }, () => {
  let db: TestDatabase;
  let client: pg.Client;
  let initial: Record<string, unknown>;

  before(async () => {
    db = await createTestDatabase();
    await db.query(SETUP);
    client = await db.connect('tandem-engine');
    initial = await catalogSnapshot(client);
  });
  after(async () => {
    await db.drop();
  });

  cases.forEach((c, i) => {
    test(c.title, async () => {
      const m = migration({ name: `case_${i}`, operations: c.operations });
      await assert.rejects(plan(client, m, engineOptions), expectInvalid(c));
      await assert.rejects(start(client, m, engineOptions), expectInvalid(c));
      assert.equal(await stateSchemaExists(client), false, 'invalid input must not create the state schema');
      assert.deepEqual(await catalogSnapshot(client), initial);
    });
  });
});

describe('the CLI says exit 2 and where', () => {
  test('start of a file with a CHECK that does not parse, and one with raw SQL that does not parse', async () => {
    const db = await createTestDatabase();
    const dir = await tempDir();
    try {
      await db.query(SETUP);
      const client = await db.connect();
      const initial = await catalogSnapshot(client);
      const checkFile = await dir.write(
        'bad_check.yaml',
        'operations:\n  - add_column:\n      table: users\n      column: { name: x, type: integer, nullable: true, check: { name: x_check, constraint: "x >" } }\n',
      );
      const r = await runCli(['start', checkFile], { TANDEM_DATABASE_URL: db.url });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes('operations[0] (add_column), field "column.check.constraint"'), r.stderr);
      const sqlFile = await dir.write('bad_sql.yaml', 'operations:\n  - sql:\n      up: |\n        CREATE TABLE t2 (id int);\n        ALTER TABEL t2 ADD COLUMN x int;\n');
      const s = await runCli(['start', sqlFile], { TANDEM_DATABASE_URL: db.url });
      assert.equal(s.code, 2, s.stderr);
      assert.ok(s.stderr.includes('operations[0] (sql), field "up"'), s.stderr);
      assert.match(s.stderr, /line 2, column 7/);
      assert.equal(await stateSchemaExists(client), false);
      assert.deepEqual(await catalogSnapshot(client), initial);
    } finally {
      await db.drop();
      await dir.remove();
    }
  });
});

describe('valid fragments still pass', () => {
  test('keys, collations, operator classes, immutable predicates, storage parameters, subqueries in up', async () => {
    const db = await createTestDatabase();
    try {
      await db.query(SETUP);
      const client = await db.connect('tandem-engine');
      const m = migration({
        name: 'valid_fragments',
        operations: [
          {
            create_table: {
              name: 'parents',
              columns: [
                { name: 'id', type: 'integer', pk: true },
                { name: 'label', type: 'text', unique: true },
                { name: 'n', type: 'serial' },
              ],
            },
          },
          {
            create_table: {
              name: 'kids',
              columns: [
                { name: 'id', type: 'integer', pk: true },
                { name: 'parent', type: 'text', nullable: true, references: { name: 'kids_parent_fk', table: 'parents', column: 'label' }, check: check("parent <> ''") },
                { name: 'me', type: 'integer', nullable: true, references: { name: 'kids_me_fk', table: 'kids', column: 'id' } },
              ],
              constraints: [{ name: 'kids_u', type: 'unique', columns: ['parent', 'me'], index_parameters: { storage_parameters: 'fillfactor=80' } }],
            },
          },
        ],
      });
      const p = await plan(client, m, engineOptions);
      assert.match(JSON.stringify(p), /WITH \(\\"fillfactor\\" = 80\)/);
      await start(client, m, { ...engineOptions, complete: true });

      const m2 = migration({
        name: 'valid_fragments_2',
        operations: [
          addColumn({ references: { name: 'x_fk', table: 'users', column: 'email' }, type: 'text', check: check('length(x) > 0') }, {}),
          {
            create_index: {
              name: 'i1',
              table: 'users',
              columns: [{ column: 'name', collate: 'C', opclass: { name: 'text_pattern_ops' } }],
              predicate: 'age > 0',
              storage_parameters: 'fillfactor = 70',
            },
          },
          { alter_column: { table: 'orders', column: 'note', type: 'integer', up: '(SELECT count(*) FROM users)', down: 'CAST(note AS text)' } },
        ],
      });
      await start(client, m2, { ...engineOptions, complete: true });
      const idx = await client.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE indexname = 'i1'`);
      assert.match(idx.rows[0]!.indexdef, /COLLATE "C" text_pattern_ops\) WITH \(fillfactor='70'\) WHERE \(age > 0\)/);
    } finally {
      await db.drop();
    }
  });
});

describe('a role without the TEMP privilege', () => {
  test('the index trials on a temporary table are skipped, the rest of validation runs', async () => {
    const db = await createTestDatabase();
    const role = `tandem_notemp_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      await db.query(SETUP);
      await admin.query(`CREATE ROLE ${ident(role)} LOGIN NOSUPERUSER PASSWORD 'pw'`);
      await db.query(`REVOKE TEMPORARY ON DATABASE ${ident(db.name)} FROM PUBLIC; GRANT SELECT ON users TO ${ident(role)}`);
      const url = new URL(db.url);
      url.username = role;
      url.password = 'pw';
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        const index = (extra: Record<string, unknown>) =>
          migration({ name: 'idx', operations: [{ create_index: { name: 'i1', table: 'users', columns: [{ column: 'age', ...extra }], predicate: 'age > 0' } }] });
        await plan(client, index({}), engineOptions);
        // The catalog lookups need no privilege: a missing collation is still found out.
        await assert.rejects(
          plan(client, index({ collate: 'no_such_collation' }), engineOptions),
          expectInvalid({ title: '', operations: [], code: 'collation-not-found', field: 'columns[0].collate' }),
        );
      } finally {
        await client.end();
      }
    } finally {
      await db.drop();
      await admin.query(`DROP ROLE IF EXISTS ${ident(role)}`);
      await admin.end();
    }
  });
});
