import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InvalidInputError } from '../../src/errors.js';
import { loadMigrationFile, parseMigration } from '../../src/migration/load.js';
import { migrationJsonSchema } from '../../src/migration/schema.js';

async function file(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-unit-'));
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

function rejects(fn: () => unknown, pattern: RegExp): InvalidInputError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.equal(err.exitCode, 2);
    return err;
  }
  assert.fail('expected an error');
}

test('the name defaults to the file name without extension, YAML and JSON alike', async () => {
  const y = await loadMigrationFile(await file('0042_add_plan.yaml', 'operations:\n  - add_column: { table: t, column: { name: c, type: text, nullable: true } }\n'));
  assert.equal(y.name, '0042_add_plan');
  assert.equal(y.operations[0]!.kind, 'add_column');
  const j = await loadMigrationFile(await file('x.json', JSON.stringify({ name: 'named', operations: [{ drop_column: { table: 't', column: 'c' } }] })));
  assert.equal(j.name, 'named');
});

test('errors name the file, the operation index and the field', async () => {
  const p = await file('bad.yaml', 'operations:\n  - rename_column: { table: t, from: a }\n');
  await assert.rejects(loadMigrationFile(p), (err: unknown) => {
    assert.ok(err instanceof InvalidInputError);
    assert.equal(err.location.file, p);
    assert.equal(err.location.operationIndex, 0);
    assert.equal(err.location.field, 'to');
    assert.match(err.message, /bad\.yaml, operations\[0\] \(rename_column\), field "to"/);
    return true;
  });
});

test('unknown operations and unknown fields are rejected', () => {
  rejects(() => parseMigration({ operations: [{ frobnicate: {} }] }, 'f.yaml', 'f'), /unknown operation "frobnicate"/);
  rejects(() => parseMigration({ operations: [{ drop_column: { table: 't', column: 'c', colour: 'red' } }] }, 'f.yaml', 'f'), /unknown field\(s\) "colour"/);
  rejects(() => parseMigration({ operations: [{ add_column: {}, drop_column: {} }] }, 'f.yaml', 'f'), /exactly one key/);
  rejects(() => parseMigration({ operations: [] }, 'f.yaml', 'f'), /non-empty list/);
  rejects(() => parseMigration({ operations: [{ drop_column: { table: 't', column: 'c' } }], extra: 1 }, 'f.yaml', 'f'), /unknown top-level field "extra"/);
});

test('malformed YAML is invalid input, not a crash', async () => {
  const p = await file('broken.yaml', 'operations: [\n  - {');
  await assert.rejects(loadMigrationFile(p), (err: unknown) => err instanceof InvalidInputError && /not valid YAML/.test(err.message));
});

test('a missing file is invalid input', async () => {
  await assert.rejects(loadMigrationFile('/nonexistent/m.yaml'), (err: unknown) => err instanceof InvalidInputError && err.exitCode === 2);
});

test('the JSON Schema describes every supported operation', () => {
  const text = JSON.stringify(migrationJsonSchema());
  for (const op of [
    'create_table',
    'add_column',
    'drop_column',
    'rename_column',
    'alter_column',
    'create_index',
    'drop_index',
    'drop_table',
    'rename_table',
    'sql',
    'create_constraint',
    'drop_constraint',
    'drop_multicolumn_constraint',
    'rename_constraint',
    'set_replica_identity',
  ])
    assert.ok(text.includes(`"${op}"`), op);
  assert.ok(text.includes('"nullable"'));
});
