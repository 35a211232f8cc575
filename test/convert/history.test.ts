import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readMigrationDirectory } from '../../src/pipeline/directory.js';
import { assertSameSchema, runHistory } from './history-run.js';

/**
 * Adoption by conversion, small: a generated history of SQL migrations (views, functions,
 * triggers, enums, citext, data fixes, renames, type changes, keys), converted with
 * `tandem convert <dir> -o <dir>` and applied with `tandem migrate`, gives the schema (and the
 * rows) that applying the SQL files directly gives. The several-hundred-file run is in
 * test/sturdiness/convert-history.test.ts (slow tier) and `npm run test:history`.
 */
describe('convert a SQL history: the same schema as the SQL itself', () => {
  it('10 generated files (seed 11)', async () => {
    const r = await runHistory({ files: 10, seed: 11 });
    assertSameSchema(r);
    assert.equal(r.convertJson.todos.length, 0, 'every up/down was inferred');
    // Every file convert wrote is one that `migrate` reads (validated, named so that it sorts in order).
    const read = await readMigrationDirectory(r.outDir);
    assert.deepEqual(
      read.map((m) => m.fileName),
      r.convertJson.files.map((f) => path.basename(f.file)),
    );
    // A split file's parts keep the history's order and say where they come from.
    const split = r.convertJson.files.filter((f) => /_\d\d\.yaml$/.test(f.file));
    assert.ok(split.length > 0, 'the history has files that need several migrations');
    assert.match(await readFile(split[0]!.file, 'utf8'), /part 1 of \d+/);
  });
});
