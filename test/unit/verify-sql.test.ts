/** The SQL of `tandem verify` (src/exec/verify-sql.ts), pure: parameters, quoting, what a row must hold. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkCheckSql, chunkEndSql, differingRowsSql, rangeWhere, type VerifyTable } from '../../src/exec/verify-sql.js';
import { resyncSql } from '../../src/exec/verify.js';

const t: VerifyTable = {
  schema: 'app',
  table: 'Order "items"',
  keyColumns: ['tenant', 'id'],
  keyTypes: ['text', 'bigint'],
  markerColumn: '_tandem_synced',
  targets: ['_tandem_new_qty'],
  lateral: 'LATERAL (SELECT CAST(__tandem_row."qty" AS integer) AS "_tandem_new_qty") AS __tandem_up',
  otherColumns: ['tenant', 'id', 'qty'],
};

test('a chunk is the key range (start, end], the end key numbered after the start key', () => {
  assert.equal(rangeWhere(t, 'r', false, false), 'true');
  assert.equal(rangeWhere(t, 'r', true, true), '(r."tenant", r."id") > ($1::text, $2::bigint) AND (r."tenant", r."id") <= ($3::text, $4::bigint)');
  assert.equal(rangeWhere(t, 'r', false, true), '(r."tenant", r."id") <= ($1::text, $2::bigint)');
  assert.match(chunkEndSql(t, true), /OFFSET \$3::bigint - 1 LIMIT 1$/);
  assert.match(chunkEndSql(t, false), /OFFSET \$1::bigint - 1 LIMIT 1$/);
  assert.match(differingRowsSql(t, true, true), /LIMIT \$5$/);
});

test('a row holds when its marker is true and each new column IS NOT DISTINCT FROM up(old); checksums only when asked', () => {
  const sql = chunkCheckSql(t, true, false, false);
  assert.match(
    sql,
    /count\(\*\) FILTER \(WHERE NOT \(__tandem_row\."_tandem_synced" IS TRUE AND __tandem_row\."_tandem_new_qty" IS NOT DISTINCT FROM __tandem_up\."_tandem_new_qty"\)\)/,
  );
  assert.match(sql, /FROM "app"\."Order ""items""" AS __tandem_row CROSS JOIN LATERAL/);
  assert.doesNotMatch(sql, /md5/);
  assert.match(
    chunkCheckSql(t, true, false, true),
    /md5\(coalesce\(string_agg\(ROW\(__tandem_row\."_tandem_new_qty", __tandem_row\."_tandem_synced" IS TRUE\)::text, ',' ORDER BY __tandem_row\."tenant", __tandem_row\."id"\)/,
  );
});

test('the re-sync SQL goes through the trigger as the old version, keys quoted as literals', () => {
  assert.equal(
    resyncSql(t, [["o'brien", '7']]),
    `BEGIN; SET LOCAL tandem.version = '__tandem_backfill'; UPDATE "app"."Order ""items""" SET "_tandem_synced" = true WHERE ("tenant", "id") IN (('o''brien'::text, '7'::bigint)); COMMIT;`,
  );
});
