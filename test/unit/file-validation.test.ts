/**
 * File-level validation without a database (issue 7, defect 6): duplicate keys, names over 63
 * bytes, the same operation twice, size limits, unstorable text, shadow names of multibyte
 * columns, malformed connection URLs. Every refusal is an InvalidInputError (exit 2) with a code
 * and a location.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveDatabaseUrl } from '../../src/db/url.js';
import { InvalidInputError } from '../../src/errors.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import { fitName, shadowColumn } from '../../src/plan/names.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-file-validation-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

/** Loads the file and returns its refusal, which must be invalid input (exit 2). */
async function refusal(name: string, text: string): Promise<InvalidInputError> {
  const p = await write(name, text);
  try {
    await loadMigrationFile(p);
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${(err as Error)?.stack ?? String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.equal(err.location.file, p);
    return err;
  }
  assert.fail(`${name} was accepted`);
}

const dropIndex = (name: string) => ({ drop_index: { name } });
const json = (doc: unknown) => JSON.stringify(doc, null, 2);

describe('duplicate keys', () => {
  test('JSON: a key given twice is refused, with the operation, the field and the line', async () => {
    const text = '{\n  "operations": [\n    { "drop_column": { "table": "users", "column": "a", "column": "b" } }\n  ]\n}\n';
    const err = await refusal('dup.json', text);
    assert.equal(err.code, 'duplicate-key');
    assert.equal(err.location.operationIndex, 0);
    assert.equal(err.location.operation, 'drop_column');
    assert.equal(err.location.field, 'column');
    assert.equal(err.location.line, 3);
    assert.equal(err.location.column, 57);
  });

  test('JSON: a top-level key given twice', async () => {
    const err = await refusal('dup_top.json', '{"name": "a", "operations": [{"drop_index": {"name": "i"}}], "name": "b"}');
    assert.equal(err.code, 'duplicate-key');
    assert.equal(err.location.field, 'name');
    assert.equal(err.location.line, 1);
    assert.equal(err.location.operationIndex, undefined);
  });

  test('JSON: the same key in two different objects is fine; escaped keys are compared decoded', async () => {
    const ok = await write('two_objects.json', json({ operations: [dropIndex('a'), dropIndex('b')] }));
    assert.equal((await loadMigrationFile(ok)).operations.length, 2);
    const err = await refusal('escaped.json', '{"operations": [{"drop_index": {"name": "a", "n\\u0061me": "b"}}]}');
    assert.equal(err.code, 'duplicate-key');
    assert.equal(err.location.operationIndex, 0);
  });

  test('YAML: a key given twice names the operation and the field path', async () => {
    const text = 'operations:\n  - add_column:\n      table: users\n      column:\n        name: x\n        type: text\n        type: int\n';
    const err = await refusal('dup.yaml', text);
    assert.equal(err.code, 'duplicate-key');
    assert.equal(err.location.operationIndex, 0);
    assert.equal(err.location.field, 'column.type');
    assert.equal(err.location.line, 7);
  });
});

describe('names over 63 bytes are refused, not truncated by PostgreSQL', () => {
  const long = 'n'.repeat(64);
  const multibyte = 'é'.repeat(32); // 64 bytes, 32 characters
  const cases: { title: string; op: unknown; field: string }[] = [
    { title: 'create_index name', op: { create_index: { name: long, table: 't', columns: [{ column: 'a' }] } }, field: 'name' },
    { title: 'create_table name', op: { create_table: { name: long, columns: [{ name: 'a', type: 'int' }] } }, field: 'name' },
    {
      title: 'create_table column name',
      op: {
        create_table: {
          name: 't',
          columns: [
            { name: 'a', type: 'int' },
            { name: multibyte, type: 'int' },
          ],
        },
      },
      field: 'columns[1].name',
    },
    {
      title: 'create_table column check name',
      op: { create_table: { name: 't', columns: [{ name: 'a', type: 'int', check: { name: long, constraint: 'a > 0' } }] } },
      field: 'columns[0].check.name',
    },
    {
      title: 'create_table constraint name',
      op: { create_table: { name: 't', columns: [{ name: 'a', type: 'int' }], constraints: [{ name: long, type: 'unique', columns: ['a'] }] } },
      field: 'constraints[0].name',
    },
    {
      title: 'add_column references name',
      op: { add_column: { table: 't', column: { name: 'b', type: 'int', nullable: true, references: { name: long, table: 'u', column: 'id' } } } },
      field: 'column.references.name',
    },
    { title: 'alter_column unique name', op: { alter_column: { table: 't', column: 'a', unique: { name: long } } }, field: 'unique.name' },
    { title: 'alter_column check name', op: { alter_column: { table: 't', column: 'a', check: { name: long, constraint: 'a > 0' }, up: 'a', down: 'a' } }, field: 'check.name' },
    { title: 'create_constraint name', op: { create_constraint: { table: 't', name: long, type: 'unique', columns: ['a'] } }, field: 'name' },
    { title: 'rename_constraint to', op: { rename_constraint: { table: 't', from: 'c', to: multibyte } }, field: 'to' },
    { title: 'rename_column to', op: { rename_column: { table: 't', from: 'a', to: long } }, field: 'to' },
    { title: 'rename_table to', op: { rename_table: { from: 't', to: long } }, field: 'to' },
  ];
  for (const c of cases) {
    test(c.title, async () => {
      const err = await refusal(`long_${c.title.replaceAll(' ', '_')}.json`, json({ operations: [dropIndex('x'), c.op] }));
      assert.equal(err.code, 'name-too-long');
      assert.equal(err.location.operationIndex, 1);
      assert.equal(err.location.field, c.field);
    });
  }

  test('exactly 63 bytes, multibyte, is accepted', async () => {
    const p = await write('fits.json', json({ operations: [{ rename_column: { table: 't', from: 'a', to: `${'é'.repeat(31)}x` } }] }));
    assert.equal((await loadMigrationFile(p)).operations.length, 1);
  });

  test('version_schema over 63 bytes is reported at version_schema', async () => {
    const err = await refusal('vs.yaml', `version_schema: ${'v'.repeat(64)}\noperations:\n  - drop_index: { name: i }\n`);
    assert.equal(err.code, 'name-too-long');
    assert.equal(err.location.field, 'version_schema');
  });
});

describe('the same operation on the same object twice is refused at the second', () => {
  const cases: { title: string; ops: unknown[]; field: string }[] = [
    { title: 'drop_index', ops: [dropIndex('i'), { drop_column: { table: 't', column: 'c' } }, dropIndex('i')], field: 'name' },
    {
      title: 'create_index',
      ops: [{ create_index: { name: 'i', table: 't', columns: [{ column: 'a' }] } }, dropIndex('j'), { create_index: { name: 'i', table: 'u', columns: [{ column: 'b' }] } }],
      field: 'name',
    },
    {
      title: 'create_table',
      ops: [{ create_table: { name: 't2', columns: [{ name: 'a', type: 'int' }] } }, dropIndex('j'), { create_table: { name: 't2', columns: [{ name: 'b', type: 'int' }] } }],
      field: 'name',
    },
    {
      title: 'drop_constraint',
      ops: [{ drop_constraint: { table: 't', name: 'c', up: 'a' } }, dropIndex('j'), { drop_constraint: { table: 't', name: 'c', up: 'b' } }],
      field: 'name',
    },
  ];
  for (const c of cases) {
    test(c.title, async () => {
      const err = await refusal(`twice_${c.title}.json`, json({ operations: c.ops }));
      assert.equal(err.code, 'duplicate-operation');
      assert.equal(err.location.operationIndex, 2);
      assert.equal(err.location.field, c.field);
    });
  }
});

describe('limits', () => {
  test('a 5 MB file of 55,000 operations is refused before parsing, quickly and in little memory', async () => {
    const ops = Array.from({ length: 55_000 }, (_, i) => ({ add_column: { table: 'users', column: { name: `c${i}`, type: 'text', nullable: true } } }));
    const t0 = Date.now();
    const err = await refusal('huge.json', JSON.stringify({ operations: ops }));
    assert.equal(err.code, 'limit-exceeded');
    assert.ok(Date.now() - t0 < 5_000);
  });

  test('more than 1,000 operations in a smaller file is refused', async () => {
    const ops = Array.from({ length: 1_001 }, (_, i) => dropIndex(`i${i}`));
    const err = await refusal('many.json', JSON.stringify({ operations: ops }));
    assert.equal(err.code, 'limit-exceeded');
    assert.equal(err.location.field, 'operations');
  });

  test('deep nesting is refused at its operation', async () => {
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    const err = await refusal('deep.json', `{"operations": [{"drop_index": {"name": ${deep}}}]}`);
    assert.equal(err.code, 'limit-exceeded');
    assert.equal(err.location.operationIndex, 0);
  });
});

describe('text PostgreSQL cannot store', () => {
  test('a NUL character in an expression', async () => {
    const err = await refusal('nul.json', json({ operations: [{ drop_column: { table: 't', column: 'c', down: 'a\u0000b' } }] }));
    assert.equal(err.location.operationIndex, 0);
    assert.equal(err.location.field, 'down');
  });

  test('a lone surrogate in a name', async () => {
    const err = await refusal('surrogate.json', '{"operations": [{"drop_column": {"table": "t", "column": "a\\ud83d"}}]}');
    assert.equal(err.location.operationIndex, 0);
    assert.equal(err.location.field, 'column');
  });

  test('an empty file', async () => {
    const err = await refusal('empty.yaml', '\n  \n');
    assert.equal(err.code, 'invalid-file');
  });
});

describe('names tandem derives from user names', () => {
  test('shadow names of 63-byte multibyte names are cut between characters and stay unique', () => {
    const seen = new Set<string>();
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      for (const char of ['😀', 'é', '語']) {
        let name = prefix;
        while (Buffer.byteLength(name + char) <= 63) name += char;
        const shadow = shadowColumn(name);
        assert.ok(Buffer.byteLength(shadow) <= 63, shadow);
        assert.ok(!/\p{Cs}/u.test(shadow), `lone surrogate in ${JSON.stringify(shadow)}`);
        assert.equal(Buffer.from(shadow, 'utf8').toString('utf8'), shadow);
        assert.ok(!seen.has(shadow), `duplicate ${shadow}`);
        seen.add(shadow);
      }
    }
    assert.notEqual(fitName(`${'x'.repeat(70)}1`), fitName(`${'x'.repeat(70)}2`));
  });
});

describe('connection URLs', () => {
  test('a malformed URL is a usage error that does not repeat the password', () => {
    for (const url of ['postgres://user:sekret@host:badport/db', 'postgres://u:sekret@[::1/db', 'not a url', 'mysql://u:sekret@h/db', 'postgres://u:%zz@h/db']) {
      assert.throws(
        () => resolveDatabaseUrl({ databaseUrl: url }),
        (err: unknown) => err instanceof InvalidInputError && err.code === 'invalid-connection-url' && err.exitCode === 2 && !err.message.includes('sekret'),
        url,
      );
    }
    assert.equal(resolveDatabaseUrl({ databaseUrl: 'postgres://u:p@localhost:5432/db' }), 'postgres://u:p@localhost:5432/db');
  });

  test('the CLI exits 2 with no stack trace and no password', async () => {
    const r = await runCli(['--database-url', 'postgres://user:sekret@host:badport/db', 'status']);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|sekret/);
    const env = await runCli(['status'], { TANDEM_DATABASE_URL: 'postgres://user:sekret@[::1/db' });
    assert.equal(env.code, 2);
    assert.doesNotMatch(env.stderr, /\n\s+at |TypeError|sekret/);
  });
});
