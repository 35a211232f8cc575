/**
 * The parse-level checks of SQL fragments (no database): a fragment must be exactly one thing of
 * the expected kind, so nothing can ride along into the SQL it is pasted into.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { InvalidInputError } from '../../src/errors.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import { runCli } from '../helpers/cli.js';
import {
  checkExpressionFragment,
  checkExclusionElements,
  checkPlainName,
  checkSequenceOptions,
  checkStatementsFragment,
  checkTypeFragment,
  loadFragmentParser,
  parseExpressionFragment,
  renderStorageParameters,
  SqlFragmentError,
} from '../../src/sql/fragments.js';

const at = { file: 'm.yaml', operationIndex: 3, operation: 'add_column', field: 'column.check.constraint' };

function refused(fn: () => unknown, code: string): SqlFragmentError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SqlFragmentError, `expected SqlFragmentError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, 2);
    assert.deepEqual(err.location, at);
    return err;
  }
  assert.fail('expected the fragment to be refused');
}

before(loadFragmentParser);

describe('types', () => {
  test('plain types pass, with modifiers, arrays and multi-word names', () => {
    for (const t of [
      'integer',
      'int',
      'varchar(20)',
      'numeric(10, 2)',
      'text[]',
      'timestamp with time zone',
      'double precision',
      'public.my_enum',
      '"Mixed Case"',
      'bit varying(3)',
      'interval',
    ]) {
      checkTypeFragment(t, at);
    }
  });

  test('a clause after the type is refused', () => {
    for (const t of [
      'int UNIQUE',
      'text NOT NULL',
      'int CHECK (false)',
      'int DEFAULT 0',
      'text COLLATE "C"',
      'int; DROP TABLE users',
      'integer -- comment',
      'int /* c */',
      'int::text',
      'int[] PRIMARY KEY',
    ]) {
      refused(() => checkTypeFragment(t, at), 'invalid-type');
    }
  });
});

describe('expressions', () => {
  test('one expression passes and its parse tree comes back', () => {
    const node = parseExpressionFragment("lower(email) || 'x'", at);
    assert.ok('A_Expr' in node);
    for (const e of ['age > 0', "coalesce(name, 'unknown')", 'CAST(code AS integer)', '(a + b) * 2', 'x IN (1, 2)', '-- leading comment\nage > 0']) parseExpressionFragment(e, at);
  });

  test('a syntax error gives the parser message and the position inside the fragment', () => {
    const err = refused(() => parseExpressionFragment('age >\n  AND x', at), 'invalid-sql');
    assert.deepEqual(err.position, { line: 2, column: 3 });
    assert.equal(err.fragment, 'age >\n  AND x');
  });

  test('anything that is not exactly one expression is refused', () => {
    for (const e of [
      'true) NOT VALID, DROP CONSTRAINT users_pkey CASCADE, ADD CHECK (true', // escapes the parentheses
      '1), (2', // a second target
      '1) + (2', // balanced as a whole, but closes the surrounding parenthesis
      '1) FROM users WHERE (true',
      '1) UNION SELECT (2',
      'age > 0 -- swallows the closing parenthesis',
      'age > 0); DROP TABLE users; SELECT (1',
      '1) AS x, (2',
    ]) {
      refused(() => parseExpressionFragment(e, at), 'invalid-sql');
    }
  });

  test('aggregates and window functions are refused everywhere; a subquery only in up/down', () => {
    refused(() => checkExpressionFragment('count(*)', 'value', at), 'aggregate-not-allowed');
    refused(() => checkExpressionFragment('sum(DISTINCT age)', 'value', at), 'aggregate-not-allowed');
    refused(() => checkExpressionFragment("string_agg(name, ',' ORDER BY name)", 'value', at), 'aggregate-not-allowed');
    refused(() => checkExpressionFragment('count(age) FILTER (WHERE age > 0) > 1', 'check', at), 'aggregate-not-allowed');
    refused(() => checkExpressionFragment('row_number() OVER ()', 'value', at), 'window-not-allowed');
    refused(() => checkExpressionFragment('count(*) > 0', 'check', at), 'aggregate-not-allowed');
    checkExpressionFragment('(SELECT count(*) FROM users)', 'value', at);
    for (const purpose of ['default', 'check', 'predicate', 'generated'] as const) {
      refused(() => checkExpressionFragment('age > (SELECT 1)', purpose, at), 'subquery-not-allowed');
      refused(() => checkExpressionFragment('EXISTS (SELECT 1 FROM users)', purpose, at), 'subquery-not-allowed');
    }
  });
});

describe('raw SQL', () => {
  test('statements that parse pass; a syntax error is located in the SQL', () => {
    assert.equal(checkStatementsFragment('CREATE TABLE t (id int); CREATE INDEX ON t (id);', at), 2);
    const err = refused(() => checkStatementsFragment('CREATE TABLE t (id int);\nALTER TABEL t ADD COLUMN x int', at), 'invalid-sql');
    assert.deepEqual(err.position, { line: 2, column: 7 });
    assert.match(err.message, /syntax error at or near "TABEL"/);
  });
});

describe('storage parameters', () => {
  test('name = value pairs are rendered again with quoted names and literal values', () => {
    assert.equal(renderStorageParameters('fillfactor=70', at), '"fillfactor" = 70');
    assert.equal(renderStorageParameters('fillfactor = 70, autovacuum_enabled = false', at), `"fillfactor" = 70, "autovacuum_enabled" = 'false'`);
    assert.equal(
      renderStorageParameters("toast.autovacuum_vacuum_scale_factor = 0.2, buffering = 'auto'", at),
      `"toast"."autovacuum_vacuum_scale_factor" = 0.2, "buffering" = 'auto'`,
    );
    assert.equal(renderStorageParameters('deduplicate_items', at), '"deduplicate_items"');
  });

  test('anything else is refused', () => {
    for (const p of [
      'fillfactor = 70) WHERE (false',
      'fillfactor = 70), CHECK (false',
      'fillfactor = 70 -- x',
      '',
      'fillfactor = int4',
      '(fillfactor = 70)',
      'fillfactor = 70); DROP TABLE users; --',
    ]) {
      refused(() => renderStorageParameters(p, at), 'invalid-storage-parameter');
    }
  });
});

test('an index method must be a plain name', () => {
  checkPlainName('gist', at, 'index method');
  refused(() => checkPlainName('gist (x WITH =) WHERE (false', at, 'index method'), 'invalid-field');
});

test('identity sequence options must be sequence options only', () => {
  checkSequenceOptions('START WITH 100 INCREMENT BY 10', at);
  checkSequenceOptions('MINVALUE 1 MAXVALUE 1000 CYCLE', at);
  refused(() => checkSequenceOptions('START 1), extra int CHECK (false', at), 'invalid-sql');
  refused(() => checkSequenceOptions('START 1; DROP TABLE users', at), 'invalid-sql');
  refused(() => checkSequenceOptions('START 1 -- x', at), 'invalid-sql');
});

describe('a migration file is checked with the parser before any connection', () => {
  const files: [string, unknown, { operationIndex: number; field: string; code: string }][] = [
    [
      'bad_type.json',
      { operations: [{ add_column: { table: 'users', column: { name: 'x', type: 'int UNIQUE', nullable: true } } }] },
      { operationIndex: 0, field: 'column.type', code: 'invalid-type' },
    ],
    [
      'bad_table_check.json',
      {
        operations: [
          { drop_column: { table: 'users', column: 'x' } },
          {
            create_table: {
              name: 't',
              columns: [
                { name: 'id', type: 'integer', pk: true },
                { name: 'v', type: 'integer', check: { name: 'c', constraint: 'v >' } },
              ],
            },
          },
        ],
      },
      { operationIndex: 1, field: 'columns[1].check.constraint', code: 'invalid-sql' },
    ],
    [
      'bad_up.json',
      { operations: [{ alter_column: { table: 'users', column: 'age', type: 'bigint', up: 'count(*)', down: 'age' } }] },
      { operationIndex: 0, field: 'up', code: 'aggregate-not-allowed' },
    ],
    [
      'bad_down.json',
      { operations: [{ drop_multicolumn_constraint: { table: 'users', name: 'c', down: { a: 'a', b: 'lower(b' } } }] },
      { operationIndex: 0, field: 'down.b', code: 'invalid-sql' },
    ],
    ['bad_sql.json', { operations: [{ sql: { up: 'CREATE TABEL t (id int)' } }] }, { operationIndex: 0, field: 'up', code: 'invalid-sql' }],
    [
      'bad_predicate.json',
      { operations: [{ create_index: { name: 'i', table: 'users', columns: [{ column: 'a' }], predicate: 'a > (SELECT 1)' } }] },
      { operationIndex: 0, field: 'predicate', code: 'subquery-not-allowed' },
    ],
    [
      'bad_storage.json',
      { operations: [{ create_index: { name: 'i', table: 'users', columns: [{ column: 'a' }], storage_parameters: 'fillfactor = 70) WHERE (false' } }] },
      { operationIndex: 0, field: 'storage_parameters', code: 'invalid-storage-parameter' },
    ],
    [
      'bad_default.json',
      { operations: [{ alter_column: { table: 'users', column: 'age', default: '(SELECT 1)', up: 'age', down: 'age' } }] },
      { operationIndex: 0, field: 'default', code: 'subquery-not-allowed' },
    ],
  ];

  test('loadMigrationFile refuses each at its operation and field', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-fragments-'));
    try {
      for (const [name, doc, expected] of files) {
        const file = path.join(dir, name);
        await writeFile(file, JSON.stringify(doc));
        await assert.rejects(loadMigrationFile(file), (err: unknown) => {
          assert.ok(err instanceof InvalidInputError, String(err));
          assert.deepEqual({ operationIndex: err.location.operationIndex, field: err.location.field, code: err.code }, expected, `${name}: ${err.message}`);
          assert.equal(err.location.file, file);
          return true;
        });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('tandem validate without a database: exit 2, the field named', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-fragments-'));
    try {
      const file = path.join(dir, 'bad_check.yaml');
      await writeFile(file, 'operations:\n  - add_column:\n      table: users\n      column: { name: x, type: integer, nullable: true, check: { name: c, constraint: "x >" } }\n');
      const r = await runCli(['validate', file]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes('operations[0] (add_column), field "column.check.constraint"'), r.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('exclusion elements must be the element list only', () => {
  checkExclusionElements('room WITH =, during WITH &&', at);
  checkExclusionElements('(lower(name)) WITH =', at);
  refused(() => checkExclusionElements('room WITH =) WHERE (false', at), 'invalid-sql');
  refused(() => checkExclusionElements('room WITH =)), CHECK (false', at), 'invalid-sql');
  refused(() => checkExclusionElements('room WITH = -- x', at), 'invalid-sql');
});
