// @tier fast
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OperationEntry } from '../../src/convert/convert.js';
import { parseSql } from '../../src/convert/parse.js';
import { splitOperations } from '../../src/convert/split.js';
import { tablesNamed, tablesWithTypeChanges, viewRebuildSql } from '../../src/pipeline/view-rebuild.js';

/** Pure parts of convert's splitting and of exec's view rebuild: no database. */
describe('splitOperations', () => {
  const col = (name: string) => ({ name, type: 'int', nullable: true });
  it('keeps what one migration can hold together and splits the rest, in order', () => {
    const ops = [
      { create_table: { name: 'a', columns: [col('id')] } },
      { create_index: { name: 'a_id', table: 'a', columns: [{ column: 'id' }] } },
      { create_table: { name: 'b', columns: [{ ...col('a_id'), references: { name: 'b_a_fk', table: 'a', column: 'id' } }] } },
      { sql: { up: 'SELECT 1' } },
      { sql: { up: 'SELECT 2' } },
      { add_column: { table: 'c', column: col('x') } },
      { add_column: { table: 'c', column: col('y') } },
      { rename_column: { table: 'c', from: 'x', to: 'z' } },
      { alter_column: { table: 'd', column: 'v', type: 'bigint', up: 'v', down: 'v' } },
      { alter_column: { table: 'd', column: 'v', nullable: false, up: 'v' } },
      { alter_column: { table: 'd', column: 'w', nullable: false, up: 'w' } },
      { drop_index: { name: 'a_id' } },
      { drop_table: { name: 'b' } },
    ] as unknown as OperationEntry[];
    assert.deepEqual(splitOperations(ops), [
      [0, 1, 2],
      [3, 4],
      [5, 6],
      [7, 8, 9],
      [10, 11, 12],
    ]);
  });

  it('a table created here is not dropped or renamed here; an index created here is not dropped here', () => {
    const ops = [
      { create_table: { name: 'a', columns: [col('id')] } },
      { create_index: { name: 'i', table: 'a', columns: [{ column: 'id' }] } },
      { drop_index: { name: 'i' } },
      { rename_table: { from: 'a', to: 'b' } },
    ] as unknown as OperationEntry[];
    assert.deepEqual(splitOperations(ops), [
      [0, 1],
      [2, 3],
    ]);
  });
});

describe('view rebuild (tandem exec)', () => {
  it('finds the tables whose column types change, and every table named', async () => {
    const p = await parseSql(
      'ALTER TABLE t ALTER COLUMN a TYPE bigint, ADD COLUMN b int;\nALTER TABLE other.x ALTER COLUMN a TYPE text;\nALTER TABLE u ADD COLUMN c int;\nUPDATE v SET a = 1 FROM w;\n',
      'x.sql',
    );
    assert.deepEqual(tablesWithTypeChanges(p.statements, 'public'), ['t']);
    assert.deepEqual(tablesNamed(p.statements, 'public').sort(), ['t', 'u', 'v', 'w']);
  });

  it('quotes the SQL as a literal inside a dollar quote that the SQL does not contain', () => {
    const sql = "SELECT '$tandem_exec$'; ALTER TABLE \"T\" ALTER COLUMN a TYPE text USING a || 'it''s'";
    const block = viewRebuildSql('public', ['T'], sql);
    assert.match(block, /^DO \$tandem_exec_1\$/);
    assert.ok(block.endsWith('$tandem_exec_1$'));
    assert.ok(block.includes(`EXECUTE 'SELECT ''$tandem_exec$''; ALTER TABLE "T" ALTER COLUMN a TYPE text USING a || ''it''''s''';`));
    assert.ok(block.includes(`to_regclass('"public"."T"')`));
  });
});
