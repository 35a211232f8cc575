/**
 * Invalid input found against the catalog (issue 7, defect 6): where create_table's column
 * mistakes are reported, the version schema's name, columns named like tandem's own, and
 * multibyte names at the identifier limit. Refusals are exit 2 with nothing changed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plan, rollback, start, complete } from '../../src/engine/lifecycle.js';
import { InvalidInputError } from '../../src/errors.js';
import { ident } from '../../src/sql/ident.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { runCli } from '../helpers/cli.js';
import { engineOptions, migration, tempDir, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);
  INSERT INTO users SELECT g, 'u' || g || '@x.io' FROM generate_series(1, 20) g;
`;

async function stateSchemaExists(client: import('pg').Client): Promise<boolean> {
  return (await client.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'tandem'`)).rows[0].n === 1;
}

/** `fn` must refuse with InvalidInputError; returns it. */
async function refused(fn: () => Promise<unknown>): Promise<InvalidInputError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${(err as Error)?.stack ?? String(err)}`);
    return err;
  }
  assert.fail('the migration was accepted');
}

const createOrders = (columns: unknown[]) => ({ name: 'orders_v1', operations: [{ create_table: { name: 'orders', columns } }] });
const id = { name: 'id', type: 'integer', pk: true };

describe('create_table reports the column and the field of a mistake', () => {
  const cases: { title: string; columns: unknown[]; field: string; code?: string }[] = [
    { title: 'unknown type', columns: [id, { name: 'a', type: 'text' }, { name: 'b', type: 'no_such_type' }], field: 'columns[2].type' },
    {
      title: 'unknown referenced table',
      columns: [id, { name: 'user_id', type: 'integer', references: { name: 'orders_user_fk', table: 'no_such_table', column: 'id' } }],
      field: 'columns[1].references.table',
    },
    {
      title: 'unknown referenced column',
      columns: [id, { name: 'user_id', type: 'integer', references: { name: 'orders_user_fk', table: 'users', column: 'no_such_column' } }],
      field: 'columns[1].references.column',
    },
    { title: 'bad default', columns: [id, { name: 'n', type: 'integer', default: 'no_such_function()' }], field: 'columns[1].default' },
    {
      title: 'bad column check',
      columns: [id, { name: 'n', type: 'integer', check: { name: 'orders_n_check', constraint: 'no_such_column > 0' } }],
      field: 'columns[1].check.constraint',
    },
  ];
  for (const c of cases) {
    test(c.title, () =>
      withDatabase(SETUP, async ({ engine }) => {
        const before = await catalogSnapshot(engine);
        const err = await refused(() => start(engine, migration(createOrders(c.columns)), engineOptions));
        assert.equal(err.location.operationIndex, 0);
        assert.equal(err.location.field, c.field);
        assert.deepEqual(await catalogSnapshot(engine), before);
        assert.equal(await stateSchemaExists(engine), false);
      }),
    );
  }

  test('a table constraint PostgreSQL refuses is reported at that constraint', () =>
    withDatabase(SETUP, async ({ engine }) => {
      const doc = {
        name: 'docs_v1',
        operations: [
          {
            create_table: {
              name: 'docs',
              columns: [id, { name: 'body', type: 'json' }, { name: 'title', type: 'text' }],
              constraints: [
                { name: 'docs_title_key', type: 'unique', columns: ['title'] },
                { name: 'docs_body_key', type: 'unique', columns: ['body'] },
              ],
            },
          },
        ],
      };
      const before = await catalogSnapshot(engine);
      const err = await refused(() => start(engine, migration(doc), engineOptions));
      assert.equal(err.location.operationIndex, 0);
      assert.equal(err.location.field, 'constraints[1]');
      assert.deepEqual(await catalogSnapshot(engine), before);
    }));

  test('a self-reference and a reference to a table created earlier are accepted', () =>
    withDatabase(SETUP, async ({ engine }) => {
      const doc = {
        name: 'tree_v1',
        operations: [
          { create_table: { name: 'a', columns: [id] } },
          {
            create_table: {
              name: 'b',
              columns: [
                id,
                { name: 'parent', type: 'integer', nullable: true, references: { name: 'b_parent_fk', table: 'b', column: 'id' } },
                { name: 'a_id', type: 'integer', references: { name: 'b_a_fk', table: 'a', column: 'id' } },
              ],
            },
          },
        ],
      };
      await plan(engine, migration(doc), engineOptions);
    }));
});

test('a version schema name over 63 bytes is reported at version_schema', () =>
  withDatabase(SETUP, async ({ engine }) => {
    const doc = { name: 'v1', version_schema: 'v'.repeat(60), operations: [{ create_table: { name: 'orders', columns: [id] } }] };
    const err = await refused(() => plan(engine, migration(doc), engineOptions));
    assert.equal(err.code, 'name-too-long');
    assert.equal(err.location.field, 'version_schema');
  }));

describe("columns named like tandem's own are detected before anything changes", () => {
  for (const column of ['_tandem_synced', '_tandem_new_email']) {
    test(`a table that already has ${column}`, () =>
      withDatabase(`${SETUP} ALTER TABLE users ADD COLUMN ${ident(column)} boolean;`, async ({ engine }) => {
        const before = await catalogSnapshot(engine);
        const doc = { name: 'users_v2', operations: [{ add_column: { table: 'users', column: { name: 'plan', type: 'text' }, up: "'free'" } }] };
        const err = await refused(() => start(engine, migration(doc), engineOptions));
        assert.equal(err.code, 'reserved-name');
        assert.equal(err.location.operationIndex, 0);
        assert.equal(err.location.field, 'table');
        assert.deepEqual(await catalogSnapshot(engine), before);
        assert.equal(await stateSchemaExists(engine), false);
      }));
  }
});

describe('a 63-byte multibyte column name', () => {
  // 'abc' and 15 emoji: 63 bytes; its shadow name must be cut between characters.
  const column = `abc${'😀'.repeat(15)}`;
  test('gets a shadow column when its type changes: start, rollback, start, complete', () =>
    withDatabase(`CREATE TABLE t (id integer PRIMARY KEY, ${ident(column)} integer); INSERT INTO t SELECT g, g FROM generate_series(1, 20) g;`, async ({ engine }) => {
      assert.equal(Buffer.byteLength(column), 63);
      const before = await catalogSnapshot(engine);
      const doc = { name: 't_v2', operations: [{ alter_column: { table: 't', column, type: 'bigint', up: ident(column), down: ident(column) } }] };
      await start(engine, migration(doc), engineOptions);
      await rollback(engine, engineOptions);
      assert.deepEqual(await catalogSnapshot(engine), before);
      await start(engine, migration({ ...doc, name: 't_v3' }), engineOptions);
      await complete(engine, engineOptions);
      const type = await engine.query(`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = $1`, [column]);
      assert.equal(type.rows[0].type, 'bigint');
    }));
});

test('the CLI reports a create_table column mistake at its field, exit 2, no stack trace', () =>
  withDatabase(SETUP, async ({ db, engine }) => {
    const dir = await tempDir();
    try {
      const file = await dir.write('orders_v1.json', JSON.stringify(createOrders([id, { name: 'a', type: 'no_such_type' }])));
      const before = await catalogSnapshot(engine);
      const r = await runCli(['start', file], { TANDEM_DATABASE_URL: db.url });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /operations\[0\] \(create_table\), field "columns\[1\]\.type"/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.deepEqual(await catalogSnapshot(engine), before);
    } finally {
      await dir.remove();
    }
  }));
