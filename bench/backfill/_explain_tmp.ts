import pg from 'pg';
import { keyedSql } from '../../src/exec/backfill-sql.js';
const url = 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS bfx WITH (FORCE)');
await admin.query('CREATE DATABASE bfx');
const c = new pg.Client({ connectionString: url.replace(/postgres$/, 'bfx') });
await c.connect();
const N = Number(process.argv[2] ?? 200000);
await c.query(
  `CREATE TABLE items (id bigint PRIMARY KEY, c1 text, c2 integer, c3 text, c4 integer); INSERT INTO items SELECT g, 'Name '||g, g%1000, 'v'||g%97, g%13 FROM generate_series(1,${N}) g; ALTER TABLE items ADD COLUMN new_col text, ADD COLUMN _tandem_synced boolean;`,
);
await c.query(`VACUUM ANALYZE items`);
await c.query(
  `CREATE SCHEMA tandem; CREATE TABLE tandem.backfill_checkpoints (migration_id bigint, table_name text, slice int, key_columns text[], range_start text[], range_end text[], last_key text[], rows_done bigint default 0, batches bigint default 0, done boolean default false, updated_at timestamptz, primary key (migration_id, table_name, slice)); CREATE TABLE tandem.backfill_skipped (migration_id bigint, table_name text, key text[], primary key (migration_id, table_name, key)); INSERT INTO tandem.backfill_checkpoints (migration_id, table_name, slice, key_columns) VALUES (1,'items',0,'{id}')`,
);
const step: any = {
  kind: 'backfill',
  id: 'b',
  description: '',
  schema: 'public',
  table: 'items',
  keyColumns: ['id'],
  keyTypes: ['bigint'],
  markerColumn: '_tandem_synced',
  estimatedRows: N,
  up: {
    targets: ['new_col'],
    lateral: `LATERAL (SELECT __tandem_prev."v" AS "new_col" FROM (SELECT __tandem_stage."v" FROM LATERAL (SELECT CAST((lower(c1)) AS text) AS "v" FROM (SELECT __tandem_row."id" AS "id", __tandem_row."c1" AS "c1", __tandem_row."c2" AS c2, __tandem_row.c3 AS c3, __tandem_row.c4 AS c4) AS __tandem_bind) AS __tandem_stage) AS __tandem_prev) AS __tandem_up`,
  },
};
const sql = keyedSql(step);
const bs = Number(process.argv[3] ?? 5000);
const q = sql.batch({ migrationId: '1', slice: 0, limit: bs, after: ['50000'] });
await c.query('BEGIN');
const r = await c.query('EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ' + q);
console.log(r.rows.map((x: any) => x['QUERY PLAN']).join('\n'));
await c.query('ROLLBACK');
let t0 = performance.now();
let after: string[] | null = null;
let n = 0;
for (;;) {
  const res: any = await c.query(
    `BEGIN; SET LOCAL tandem.version = 'x'; SET LOCAL synchronous_commit = off; ${sql.batch({ migrationId: '1', slice: 0, limit: bs, after })}; COMMIT`,
  );
  const row = res.find((x: any) => x.command === 'SELECT').rows[0];
  n += row.updated;
  if (row.seen < bs) break;
  after = row.last_key;
}
const tb = (performance.now() - t0) / 1000;
await c.query(`ALTER TABLE items ADD COLUMN n2 text`);
t0 = performance.now();
await c.query(`UPDATE items SET n2 = lower(c1)`);
const tu = (performance.now() - t0) / 1000;
console.log({ n, backfillRps: Math.round(N / tb), updateRps: Math.round(N / tu), ratio: (tu / tb).toFixed(2) });
await c.end();
await admin.end();
