import pg from 'pg';
import fs from 'node:fs';
const cols = Number(process.argv[2] ?? 5);
const variants = process.argv.slice(3);
const D = `postgres://postgres@127.0.0.1:5432/wq_trig_${cols}`;
const c = new pg.Client({ connectionString: D }); await c.connect();
const admin = new pg.Client({ connectionString: D }); await admin.connect();
await c.query(`SET synchronous_commit = off`);
const pid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
const cpu = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10_000; };
const texts = Array.from({ length: cols - 3 }, (_, i) => `c${i + 3}`);
const N = 20000;
const work: Record<string, string> = {
  upd: `UPDATE bench SET balance = balance + 1 WHERE id = k`,
  other: `UPDATE bench SET filler = 'x' WHERE id = k`,
  ins: `INSERT INTO bench (id, balance, filler, ${texts.join(', ')}, _tandem_new_balance) VALUES (nextval('bench_ins'), 1, 'f', ${texts.map((t) => `'${t}'`).join(', ')}, 1)`,
};
const res: Record<string, Record<string, number[]>> = {};
for (let round = 0; round < 3; round++) for (const v of variants) {
  if (v === 'off') await admin.query('ALTER TABLE bench DISABLE TRIGGER _tandem_sync_public_w1');
  else { await admin.query('ALTER TABLE bench ENABLE TRIGGER _tandem_sync_public_w1'); await admin.query(fs.readFileSync(`/tmp/v/${v}.sql`, 'utf8')); }
  for (const [k, sql] of Object.entries(work)) {
    const t0 = cpu();
    await c.query(`DO $d$ DECLARE k int; BEGIN FOR i IN 1..${N} LOOP k := 1 + (random() * 99999)::int; ${sql}; COMMIT; END LOOP; END $d$`);
    ((res[v] ??= {})[k] ??= []).push((cpu() - t0) / N);
  }
}
await admin.query('ALTER TABLE bench ENABLE TRIGGER _tandem_sync_public_w1'); await admin.query(fs.readFileSync(`/tmp/v/curtrig.sql`, 'utf8'));
await admin.query('VACUUM bench');
for (const v of variants) console.log(v.padEnd(10), Object.entries(res[v]!).map(([k, a]) => `${k} ${Math.min(...a).toFixed(1)} (${a.map((x) => x.toFixed(1)).join('/')})`).join('  '));
await c.end(); await admin.end();
