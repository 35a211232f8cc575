/**
 * Schema-aware lint against a real PostgreSQL: the live catalog tells column types (which type
 * changes rewrite), validated NOT NULL checks, function volatility, index → table, and table
 * sizes to rank hazards by.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { InvalidInputError } from '../../src/errors.js';
import { lintSql, readCatalog, render, runLint, type Catalog } from '../../src/lint/index.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let client: pg.Client;
let catalog: Catalog;

const rules = async (sql: string) =>
  (await lintSql(`SET lock_timeout = '1s';\n${sql}`, { catalog })).findings.map((f) => `${f.rule}${f.severity === 'warning' ? '(warning)' : ''}`);

before(async () => {
  db = await createTestDatabase();
  client = await db.connect();
  await client.query(`
    CREATE TABLE users (
      id int PRIMARY KEY, name varchar(50), price numeric(10, 2), email text, nick text, created timestamp(3), score text
    );
    INSERT INTO users SELECT g, 'u' || g, g, 'e' || g, NULL, now(), g::text FROM generate_series(1, 20000) g;
    CREATE TABLE orders (id int PRIMARY KEY, user_id int);
    INSERT INTO orders SELECT g, g FROM generate_series(1, 10) g;
    CREATE INDEX users_name_idx ON users (name);
    ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL);
    ALTER TABLE users ADD CONSTRAINT users_nick_nn CHECK (nick IS NOT NULL) NOT VALID;
    CREATE FUNCTION region_default() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'eu' $$;
    CREATE FUNCTION random_code() RETURNS text LANGUAGE sql AS $$ SELECT md5(random()::text) $$;
    ANALYZE users; ANALYZE orders;
  `);
  catalog = await readCatalog(client, 'public');
});

after(async () => {
  await db?.drop();
});

describe('schema-aware lint', () => {
  test('reads tables, columns, sizes, checks, indexes, functions and the server version', () => {
    const users = catalog.tables.get('public.users');
    assert.ok(users);
    assert.equal(users.rows, 20000);
    assert.ok(users.bytes > 500_000);
    assert.equal(users.columns.get('name')?.formatted, 'character varying(50)');
    assert.ok(users.notNullChecks.has('email'));
    assert.equal(users.pendingNotNullChecks.get('users_nick_nn'), 'nick');
    assert.deepEqual(catalog.indexes.get('public.users_name_idx'), { schema: 'public', table: 'users' });
    assert.equal(catalog.functions.get('region_default'), 's');
    assert.equal(catalog.functions.get('random_code'), 'v');
    assert.ok(catalog.serverVersion >= 12);
  });

  test('type changes: the current type decides between no rewrite and rewrite', async () => {
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN name TYPE varchar(100);'), []);
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN name TYPE text;'), []);
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN price TYPE numeric(14, 2);'), []);
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN created TYPE timestamp(6);'), []);
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN name TYPE varchar(20);'), ['alter-column-type']);
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN price TYPE numeric(14, 4);'), ['alter-column-type']);
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN created TYPE timestamptz;'), ['alter-column-type(warning)']);
    const f = (await lintSql('ALTER TABLE users ALTER COLUMN id TYPE bigint;', { catalog })).findings.find((x) => x.rule === 'alter-column-type');
    assert.ok(f);
    assert.match(f.message, /from int4 to int8 rewrites the table/);
    // Offline the same statements are only "may rewrite" warnings.
    const offline = (await lintSql("SET lock_timeout = '1s';\nALTER TABLE users ALTER COLUMN name TYPE varchar(100);")).findings.map((x) => `${x.rule}:${x.severity}`);
    assert.deepEqual(offline, ['alter-column-type:warning']);
  });

  test('SET NOT NULL: a validated CHECK in the catalog (or validated in the file) skips the scan', async () => {
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN email SET NOT NULL;'), []);
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN name SET NOT NULL;'), ['set-not-null']);
    assert.deepEqual(await rules('ALTER TABLE users ALTER COLUMN nick SET NOT NULL;'), ['set-not-null']);
    assert.deepEqual(await rules('ALTER TABLE users VALIDATE CONSTRAINT users_nick_nn;\nALTER TABLE users ALTER COLUMN nick SET NOT NULL;'), []);
  });

  test('defaults: pg_proc.provolatile decides for user functions', async () => {
    assert.deepEqual(await rules('ALTER TABLE users ADD COLUMN region text DEFAULT region_default();'), []);
    assert.deepEqual(await rules('ALTER TABLE users ADD COLUMN code text DEFAULT random_code();'), ['add-column-volatile-default']);
  });

  test('findings carry table sizes; DROP INDEX is attributed to its table; hazards are ranked by size', async () => {
    const sql = "SET lock_timeout = '1s';\nDROP INDEX users_name_idx;\nCREATE INDEX ON orders (user_id);\nCREATE INDEX ON users (email);";
    const file = await lintSql(sql, { catalog, file: 'm.sql' });
    const drop = file.findings.find((f) => f.rule === 'drop-index-non-concurrent');
    assert.ok(drop?.table);
    assert.equal(drop.table.name, 'users');
    assert.equal(drop.table.rows, 20000);
    const dir = mkdtempSync(path.join(tmpdir(), 'tandem-lint-db-'));
    writeFileSync(path.join(dir, 'm.sql'), sql);
    const report = await runLint({ inputs: ['m.sql'], cwd: dir, databaseUrl: db.url });
    assert.equal(report.schemaAware, true);
    assert.equal(report.pgVersion, catalog.serverVersion, 'the server version is the default --pg-version');
    const doc = JSON.parse(render(report, 'json'));
    assert.deepEqual(
      doc.tablesBySize.map((t: { table: string }) => t.table),
      ['users', 'orders'],
    );
    assert.match(render(report, 'human', { color: false }), /Hazards by table size \(live catalog\):\n {2}users +~20k rows/);
    await assert.rejects(runLint({ inputs: [], cwd: dir }), InvalidInputError);
  });

  test('the CLI reads the catalog with --database-url', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tandem-lint-db-cli-'));
    const file = path.join(dir, 'widen.sql');
    writeFileSync(file, "SET lock_timeout = '1s';\nALTER TABLE users ALTER COLUMN name TYPE varchar(200);\n");
    const r = await runCli(['--database-url', db.url, 'lint', '--format', 'json', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.schemaAware, true);
    assert.deepEqual(doc.findings, []);
  });
});
