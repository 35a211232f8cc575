import pg from 'pg';
import { keyedSql } from '../../src/exec/backfill-sql.js';
const url = 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS bfx WITH (FORCE)');
await admin.query('CREATE DATABASE bfx');
const c = new pg.Client({ connectionString: url.replace(/postgres$/, 'bfx') });
await c.connect();
const N = Number(process.argv[2] ?? 300000);
const bs = Number(process.argv[3] ?? 5000);
const tables = ['a1', 'u1', 'n1', 'p1', 'a2', 'u2', 'n2', 'p2'];
for (const t of tables) {
  await c.query(
    `CREATE TABLE ${t} (id bigint PRIMARY KEY, c1 text, c2 integer, c3 text, c4 integer); INSERT INTO ${t} SELECT g, 'Name '||g, g%1000, 'v'||g%97, g%13 FROM generate_series(1,${N}) g; ALTER TABLE ${t} ADD COLUMN new_col text, ADD COLUMN _tandem_synced boolean;`,
  );
  await c.query(`VACUUM ANALYZE ${t}`);
}
await c.query(
  `CREATE SCHEMA tandem; CREATE TABLE tandem.backfill_checkpoints (migration_id bigint, table_name text, slice int, key_columns text[], range_start text[], range_end text[], last_key text[], rows_done bigint default 0, batches bigint default 0, done boolean default false, updated_at timestamptz, primary key (migration_id, table_name, slice)); CREATE TABLE tandem.backfill_skipped (migration_id bigint, table_name text, key text[], primary key (migration_id, table_name, key));`,
);
const res: Record<string, number[]> = {};
for (const t of tables) {
  await c.query('CHECKPOINT');
  const t0 = performance.now();
  if (t.startsWith('u')) await c.query(`UPDATE ${t} SET new_col = lower(c1)`);
  else if (t.startsWith('p')) {
    for (let lo = 0; lo < N; lo += bs)
      await c.query(`BEGIN; SET LOCAL synchronous_commit = off; UPDATE ${t} SET new_col = lower(c1), _tandem_synced = true WHERE id > ${lo} AND id <= ${lo + bs}; COMMIT`);
  } else {
    if (!t.startsWith('p')) await c.query(`INSERT INTO tandem.backfill_checkpoints (migration_id, table_name, slice, key_columns) VALUES (1,'${t}',0,'{id}')`);
    const step: any = {
      kind: 'backfill',
      id: 'b',
      description: '',
      schema: 'public',
      table: t,
      keyColumns: ['id'],
      keyTypes: ['bigint'],
      markerColumn: '_tandem_synced',
      estimatedRows: N,
      up: {
        targets: ['new_col'],
        lateral: `LATERAL (SELECT __tandem_prev."v" AS "new_col" FROM (SELECT __tandem_stage."v" FROM LATERAL (SELECT CAST((lower(c1)) AS text) AS "v" FROM (SELECT __tandem_row."id" AS "id", __tandem_row."c1" AS "c1") AS __tandem_bind) AS __tandem_stage) AS __tandem_prev) AS __tandem_up`,
      },
    };
    const sql = keyedSql(step);
    let after: string[] | null = null;
    for (;;) {
      let q = sql.batch({ migrationId: '1', slice: 0, limit: bs, after });
      if (t.startsWith('n')) q = q.replace('FOR UPDATE OF __tandem_row SKIP LOCKED', '');
      const r: any = await c.query(`BEGIN; SET LOCAL synchronous_commit = off; ${q}; COMMIT`);
      const row = r.find((x: any) => x.command === 'SELECT').rows[0];
      if (row.seen < bs) break;
      after = row.last_key;
    }
  }
  const k = t[0]!;
  (res[k] ??= []).push((performance.now() - t0) / 1000);
}
const sum = (x: number[]) => x.reduce((a, b) => a + b, 0);
console.log({
  N,
  bs,
  res,
  ratio: (sum(res['u']!) / sum(res['a']!)).toFixed(2),
  nolock: (sum(res['u']!) / sum(res['n']!)).toFixed(2),
  plain: (sum(res['u']!) / sum(res['p']!)).toFixed(2),
});
await c.end();
await admin.query('DROP DATABASE IF EXISTS bfx WITH (FORCE)');
await admin.end();
