import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { readCatalogModel } from '../../src/convert/catalog.js';
import { convertSql, TODO } from '../../src/convert/convert.js';
import { parseSql, parseSqlFile, SqlSyntaxError } from '../../src/convert/parse.js';
import { migrationYaml } from '../../src/convert/yaml.js';
import { exitCodeOf } from '../../src/errors.js';
import { MigrationFile } from '../../src/migration/schema.js';

const fixtures = path.resolve(import.meta.dirname, '..', 'fixtures', 'convert');

interface Expected {
  operations: unknown[];
  todos: string[];
  warnings: string[];
  dropped: string[];
}

async function convertText(sql: string, opts: Parameters<typeof convertSql>[1] = {}) {
  return convertSql(await parseSql(sql, 'inline.sql'), opts);
}

function ops(result: Awaited<ReturnType<typeof convertText>>): Record<string, Record<string, unknown>>[] {
  return result.migration.operations as unknown as Record<string, Record<string, unknown>>[];
}

describe('convert: fixtures (test/fixtures/convert/*.sql → *.expected.json)', async () => {
  const files = (await readdir(fixtures)).filter((f) => f.endsWith('.sql')).sort();
  it('has fixtures', () => assert.ok(files.length >= 8));
  for (const file of files) {
    it(file, async () => {
      const parsed = await parseSqlFile(path.join(fixtures, file));
      const result = convertSql(parsed);
      const expected = JSON.parse(await readFile(path.join(fixtures, file.replace(/\.sql$/, '.expected.json')), 'utf8')) as Expected;
      assert.deepEqual(result.migration.operations, expected.operations);
      assert.deepEqual(
        result.todos.map((t) => `${t.line}:${t.col} operations[${t.operationIndex}].${t.operation}.${t.field}`),
        expected.todos,
      );
      assert.deepEqual(
        result.warnings.map((w) => `${w.line}:${w.col} ${w.message}`),
        expected.warnings,
      );
      assert.deepEqual(
        result.dropped.map((d) => `${d.line}:${d.col} ${d.reason}`),
        expected.dropped,
      );

      // The output is a valid migration file, before and after going through YAML (comments included).
      assert.equal(MigrationFile.safeParse(result.migration).success, true);
      const yaml = migrationYaml(result, file);
      const reparsed = MigrationFile.parse(YAML.parse(yaml));
      assert.deepEqual(reparsed, result.migration);
      // Every TODO is in the file where it says, with a marker a human cannot miss.
      const doc = YAML.parseDocument(yaml);
      for (const t of result.todos) assert.match(String(doc.getIn(t.path)), /TODO/, t.field);
      if (result.todos.length) assert.match(yaml, new RegExp(`${result.todos.length} TODOs? to fill in`));
    });
  }
});

describe('convert: inference', () => {
  it('casts both ways when the old type is known from the file, and from the catalog', async () => {
    const inFile = await convertText('CREATE TABLE t (id int PRIMARY KEY, n smallint);\nALTER TABLE t ALTER COLUMN n TYPE bigint;');
    assert.deepEqual(ops(inFile)[1], { alter_column: { table: 't', column: 'n', type: 'bigint', up: 'CAST(n AS bigint)', down: 'CAST(n AS smallint)' } });
    assert.equal(inFile.todos.length, 0);

    const catalog = new Map([['t', { primaryKey: ['id'], columns: new Map([['n', { type: 'integer', notNull: true, default: null }]]) }]]);
    const fromCatalog = await convertText('ALTER TABLE t ALTER COLUMN n TYPE bigint;\nALTER TABLE t DROP COLUMN n;', { catalog });
    assert.equal(ops(fromCatalog)[0]!['alter_column']!['down'], 'CAST(n AS integer)');
    // NOT NULL without a default: dropping it needs a `down` only a human can write.
    assert.equal(ops(fromCatalog)[1]!['drop_column']!['down'], TODO.dropColumnDown('n'));
    assert.deepEqual(
      fromCatalog.todos.map((t) => t.field),
      ['down'],
    );

    const unknown = await convertText('ALTER TABLE t ALTER COLUMN n TYPE bigint;');
    assert.match(String(ops(unknown)[0]!['alter_column']!['down']), /^TODO/);
    assert.deepEqual(
      unknown.todos.map((t) => `${t.where} ${t.field}`),
      ['inline.sql:1:15 down'],
    );
  });

  it('quotes identifiers in generated SQL only when needed', async () => {
    const r = await convertText(
      'CREATE TABLE t ("Order" int, "user" int, plain int);\n' +
        'ALTER TABLE t ALTER COLUMN "Order" TYPE bigint, ALTER COLUMN "user" TYPE bigint, ALTER COLUMN plain SET NOT NULL;',
    );
    assert.equal(ops(r)[1]!['alter_column']!['up'], 'CAST("Order" AS bigint)');
    assert.equal(ops(r)[2]!['alter_column']!['up'], 'CAST("user" AS bigint)');
    assert.equal(ops(r)[3]!['alter_column']!['up'], 'COALESCE(plain, TODO)');
  });

  it('splits several ALTER TABLE subcommands into several operations, keeping an unsupported one as raw SQL', async () => {
    const r = await convertText('ALTER TABLE ONLY public.t ADD COLUMN a int, SET (fillfactor = 70), ALTER COLUMN b DROP DEFAULT');
    assert.deepEqual(Object.keys(ops(r)[0]!), ['add_column']);
    assert.deepEqual(ops(r)[1], { sql: { up: 'ALTER TABLE ONLY public.t SET (fillfactor = 70)' } });
    assert.deepEqual(ops(r)[2], { alter_column: { table: 't', column: 'b', default: null } });
    assert.equal(r.warnings[0]!.where, 'inline.sql:1:45');
  });

  it('names unnamed constraints and indexes as PostgreSQL would', async () => {
    const r = await convertText(
      'CREATE TABLE orders (id int PRIMARY KEY, a int, b int, UNIQUE (a, b), CHECK (a < b), CHECK (a > 0));\n' +
        'ALTER TABLE orders ADD FOREIGN KEY (a) REFERENCES orders;\n' +
        'CREATE INDEX ON orders (a, b);',
    );
    const table = ops(r)[0]!['create_table'] as { constraints: { name: string }[] };
    assert.deepEqual(
      table.constraints.map((c) => c.name),
      ['orders_a_b_key', 'orders_check', 'orders_a_check'],
    );
    const fk = ops(r)[1]!['create_constraint'] as { name: string; references: { columns: string[] } };
    assert.equal(fk.name, 'orders_a_fkey');
    assert.deepEqual(fk.references.columns, ['id'], 'the referenced primary key is known from CREATE TABLE');
    assert.equal((ops(r)[2]!['create_index'] as { name: string }).name, 'orders_a_b_idx');
  });

  it('a file with nothing to convert is invalid input (exit 2)', async () => {
    await assert.rejects(convertText('BEGIN;\nSET lock_timeout = 100;\nCOMMIT;'), (err: unknown) => exitCodeOf(err) === 2);
  });
});

describe('convert: parse errors', () => {
  it('reports file:line:col (in characters, after multi-byte text) and exit code 2', async () => {
    const sql = '-- café\nCREATE TABLE t (\n  id int,\n  name tex t NOT NULL\n);\n';
    await assert.rejects(parseSql(sql, 'm.sql'), (err: unknown) => {
      assert.ok(err instanceof SqlSyntaxError);
      assert.equal(err.line, 4);
      assert.equal(err.col, 12);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /^m\.sql:4:12: syntax error at or near "t"/);
      return true;
    });
    await assert.rejects(parseSql("SELECT 'é';\nSELEC 1;", 'x.sql'), /x\.sql:2:1: syntax error at or near "SELEC"/);
    await assert.rejects(parseSql('ALTER TABLE t ADD COLUMN', 'y.sql'), /y\.sql:1:25: syntax error at end of input/);
  });

  it('statements know their text and position, without the comments before them', async () => {
    const { statements } = await parseSql('-- first\nSELECT 1;  /* c */ SELECT\n  2 ;\n', 'z.sql');
    assert.deepEqual(
      statements.map((s) => [s.line, s.col, s.text]),
      [
        [2, 1, 'SELECT 1'],
        [2, 20, 'SELECT\n  2'],
      ],
    );
  });
});

describe('convert: the command', async () => {
  const { runCli } = await import('../helpers/cli.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-convert-'));

  it('YAML on stdout, warnings with file:line:col on stderr, exit 0 with TODOs', async () => {
    const file = path.join(fixtures, 'add-column.sql');
    const r = await runCli(['convert', file]);
    assert.equal(r.code, 0, r.stderr);
    // ADD COLUMN … UNIQUE on an existing table needs a second migration: two YAML documents.
    const docs = YAML.parseAllDocuments(r.stdout).map((d) => MigrationFile.parse(d.toJS()));
    assert.deepEqual(
      docs.map((d) => d.operations.length),
      [5, 1],
    );
    assert.match(r.stderr, /split into 2 migrations/);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:19: warning: TODO in operations\\[1\\]\\.add_column\\.up`));
    assert.match(r.stderr, /add-column\.sql:8:3: warning: IF NOT EXISTS dropped/);
    assert.match(r.stderr, /1 TODO to fill in/);
  });

  it('a malformed file: exit 2, the location, nothing on stdout', async () => {
    const bad = path.join(dir, 'bad.sql');
    await writeFile(bad, 'CREATE TABLE t (id int);\nALTER TABLE t\n  ADD COLUMN x int NOT NUL;\n');
    const r = await runCli(['convert', bad]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bad\.sql:3:24: syntax error at or near "NUL"/);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  });

  it('-o writes the file (with --name; a file split in parts gives FILE_01, FILE_02…), --json prints one document', async () => {
    const single = path.join(dir, '0041_renames.yaml');
    const one = await runCli(['convert', path.join(fixtures, 'create-table.sql'), '-o', single, '--name', '0041_tables']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(MigrationFile.parse(YAML.parse(await readFile(single, 'utf8'))).name, '0041_tables');

    const out = path.join(dir, '0042_accounts.yaml');
    const r = await runCli(['convert', path.join(fixtures, 'alter-column.sql'), '-o', out, '--name', '0042_accounts']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /split into \d+ migrations/);
    const first = MigrationFile.parse(YAML.parse(await readFile(path.join(dir, '0042_accounts_01.yaml'), 'utf8')));
    const second = MigrationFile.parse(YAML.parse(await readFile(path.join(dir, '0042_accounts_02.yaml'), 'utf8')));
    assert.deepEqual([first.name, second.name], ['0042_accounts_01', '0042_accounts_02'], 'each part has a name of its own');

    const j = await runCli(['--json', 'convert', path.join(fixtures, 'renames.sql')]);
    assert.equal(j.code, 0, j.stderr);
    const parsed = JSON.parse(j.stdout) as { migration: unknown; warnings: { where: string }[] };
    assert.equal(MigrationFile.safeParse(parsed.migration).success, true);
    assert.match(parsed.warnings[0]!.where, /renames\.sql:4:1$/);
  });

  it('--database-url: old types and nullability come from the catalog', async () => {
    const { createTestDatabase } = await import('../helpers/db.js');
    const db = await createTestDatabase();
    try {
      await db.query('CREATE TABLE orders (id int PRIMARY KEY, total integer NOT NULL, note varchar(30))');
      const file = path.join(dir, 'catalog.sql');
      await writeFile(file, 'ALTER TABLE orders ALTER COLUMN note TYPE text;\nALTER TABLE orders DROP COLUMN total;\n');
      const r = await runCli(['--json', '--database-url', db.url, 'convert', file]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { migration: { operations: Record<string, Record<string, unknown>>[] }; todos: { field: string }[] };
      assert.equal(out.migration.operations[0]!['alter_column']!['down'], 'CAST(note AS character varying(30))');
      assert.deepEqual(
        out.todos.map((t) => t.field),
        ['down'],
        'total is NOT NULL without a default',
      );

      // A key a foreign key references cannot be shadowed (known from the database): raw SQL that
      // rebuilds the version views around it, which `start` then runs with a version schema present.
      await db.query('CREATE TABLE lines (id int PRIMARY KEY, order_id int REFERENCES orders)');
      const init = path.join(dir, 'catalog-0001.yaml');
      await writeFile(init, 'operations:\n  - create_table: { name: extra, columns: [ {name: id, type: int, pk: true} ] }\n');
      assert.equal((await runCli(['--database-url', db.url, 'start', '--complete', init])).code, 0);
      const widen = path.join(dir, 'widen.sql');
      await writeFile(widen, 'ALTER TABLE orders ALTER COLUMN id TYPE bigint;\n');
      const yaml = path.join(dir, 'catalog-0002.yaml');
      const c = await runCli(['--database-url', db.url, 'convert', widen, '-o', yaml]);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stderr, /orders\.id is in the primary key/);
      const s = await runCli(['--database-url', db.url, 'start', '--complete', yaml]);
      assert.equal(s.code, 0, s.stderr);
      const latest = await db.query<{ t: string }>(
        `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '"public_catalog-0002".orders'::regclass AND attname = 'id'`,
      );
      assert.equal(latest.rows[0]!.t, 'bigint');
    } finally {
      await db.drop();
    }
  });

  it('the output runs: converted files go through `tandem start --complete`', async () => {
    const { createTestDatabase } = await import('../helpers/db.js');
    const db = await createTestDatabase();
    try {
      const first = path.join(dir, 'init.sql');
      await writeFile(first, 'CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, score int NOT NULL DEFAULT 0);\n');
      const second = path.join(dir, 'change.sql');
      await writeFile(
        second,
        'BEGIN;\nALTER TABLE users ALTER COLUMN score TYPE bigint;\nALTER TABLE users RENAME COLUMN name TO display_name;\n' +
          "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';\nCOMMIT;\n",
      );
      const url = ['--database-url', db.url];
      for (const [sql, yaml] of [
        [first, path.join(dir, '0001_init.yaml')],
        [second, path.join(dir, '0002_change.yaml')],
      ] as const) {
        // As `tandem --database-url … convert`: old types come from the database.
        const result = convertSql(await parseSqlFile(sql), { catalog: await readCatalogModel(db.url, 'public') });
        assert.equal(result.todos.length, 0);
        await writeFile(yaml, migrationYaml(result, sql));
        const s = await runCli([...url, 'start', '--complete', yaml]);
        assert.equal(s.code, 0, s.stderr);
      }
      const cols = await db.query<{ column_name: string; data_type: string; is_nullable: string }>(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' ORDER BY ordinal_position`,
      );
      assert.deepEqual(
        cols.rows.map((c) => `${c.column_name} ${c.data_type} ${c.is_nullable}`),
        ['id bigint NO', 'display_name text YES', 'score bigint NO', 'plan text NO'],
      );
    } finally {
      await db.drop();
    }
  });
});

describe('convert: REFERENCES without columns, split files, histories', () => {
  it('REFERENCES t takes t’s primary key from an earlier CREATE TABLE (also a table referencing itself)', async () => {
    const r = await convertText(
      'CREATE TABLE teams (code text PRIMARY KEY);\nCREATE TABLE people (id int PRIMARY KEY, team text REFERENCES teams, boss int REFERENCES people);\n' +
        'ALTER TABLE people ADD CONSTRAINT people_team2_fk FOREIGN KEY (team) REFERENCES teams;\n',
    );
    const people = ops(r)[1]!['create_table'] as { columns: { name: string; references?: { table: string; column: string } }[] };
    assert.deepEqual(
      people.columns.map((c) => c.references && `${c.references.table}.${c.references.column}`),
      [undefined, 'teams.code', 'people.id'],
    );
    assert.deepEqual((ops(r)[2]!['create_constraint'] as { references: { columns: string[] } }).references.columns, ['code']);
    assert.equal(r.todos.length, 0);
  });

  it('REFERENCES t with t’s key unknown: exit 2 naming the file, line and column, and what to do — never a TODO', async () => {
    const parsed = await parseSql('CREATE TABLE a (id int PRIMARY KEY);\nALTER TABLE a\n  ADD COLUMN b_id int REFERENCES b;\n', 'refs.sql');
    assert.throws(
      () => convertSql(parsed),
      (err: Error & { code?: string }) => {
        assert.equal(exitCodeOf(err), 2);
        assert.equal(err.code, 'referenced-table-not-found');
        assert.match(err.message, /^refs\.sql:3:\d+: REFERENCES b names no column/);
        assert.match(err.message, /REFERENCES b \(<column>\)/);
        return true;
      },
    );
    const keyless = await parseSql('CREATE TABLE b (x int);\nCREATE TABLE a (id int PRIMARY KEY, b_x int REFERENCES b);\n', 'keyless.sql');
    assert.throws(
      () => convertSql(keyless),
      (err: Error & { code?: string }) => err.code === 'referenced-key-not-unique' && /keyless\.sql:2:/.test(err.message),
    );
  });

  it('a file mixing a CREATE TABLE with raw SQL and same-table changes splits into migrations, in order', async () => {
    const r = await convertText(
      'CREATE TABLE t (id int PRIMARY KEY, a text);\nCREATE INDEX t_a ON t (a);\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n' +
        'UPDATE t SET a = lower(a);\nALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t ADD COLUMN a int;\nALTER TABLE t ALTER COLUMN id TYPE bigint;\n',
    );
    assert.deepEqual(
      r.parts.map((p) => p.operations.map((o) => Object.keys(o)[0])),
      [['create_table', 'create_index'], ['sql', 'sql'], ['rename_column'], ['add_column'], ['sql']],
    );
    // A primary key cannot be shadowed: its type change is raw SQL that rebuilds the version views around it.
    const up = (r.parts[4]!.operations[0] as { sql: { up: string } }).sql.up;
    assert.match(up, /^DO \$tandem_exec\$/);
    assert.match(up, /ALTER TABLE t ALTER COLUMN id TYPE bigint/);
  });

  it('convert <dir> -o <dir>: the history in order; bad input writes nothing (exit 2)', async () => {
    const { runCli } = await import('../helpers/cli.js');
    const root = await mkdtemp(path.join(os.tmpdir(), 'tandem-convert-dir-'));
    const sql = path.join(root, 'sql');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(sql);
    await writeFile(path.join(sql, '0001_users.sql'), 'CREATE TABLE users (id int PRIMARY KEY, name text);\n');
    await writeFile(
      path.join(sql, '0002_orders.sql'),
      'BEGIN;\nCREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users);\nUPDATE users SET name = trim(name);\nCOMMIT;\n',
    );
    await writeFile(path.join(sql, '0003_noop.sql'), 'BEGIN;\nCOMMIT;\n');
    const out = path.join(root, 'out');
    const r = await runCli(['--json', 'convert', sql, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { files: { file: string; name: string }[]; skipped: { source: string }[] };
    assert.deepEqual(
      doc.files.map((f) => f.name),
      ['0001_users', '0002_orders_01', '0002_orders_02'],
    );
    assert.equal(doc.skipped.length, 1);
    const orders = MigrationFile.parse(YAML.parse(await readFile(path.join(out, '0002_orders_01.yaml'), 'utf8')));
    assert.deepEqual((orders.operations[0] as { create_table: { columns: { references?: { column: string } }[] } }).create_table.columns[1]!.references?.column, 'id');

    await writeFile(path.join(sql, '0004_bad.sql'), 'ALTER TABLE orders ADD COLUMN x_id int REFERENCES nowhere;\n');
    const out2 = path.join(root, 'out2');
    const bad = await runCli(['convert', sql, '-o', out2]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /0004_bad\.sql:1:\d+: REFERENCES nowhere names no column/);
    await assert.rejects(readdir(out2), 'nothing written');
  });
});
