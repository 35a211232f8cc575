import pg from 'pg';
import fs from 'node:fs';
const cols = Number(process.argv[2] ?? 5);
const variants = process.argv.slice(3);
const D = `postgres://postgres@127.0.0.1:5432/wq_trig_${cols}`;
const c = new pg.Client({ connectionString: D }); await c.connect();
const admin = new pg.Client({ connectionString: D }); await admin.connect();
await c.query(`SET synchronous_commit = off`);
const pid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
const cpu = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10_000; }; // µs (100 Hz ticks)
const texts = Array.from({ length: cols - 3 }, (_, i) => `c${i + 3}`);
const work: Record<string, string> = {
  upd: `UPDATE bench SET balance = balance + 1 WHERE id = $1`,
  other: `UPDATE bench SET filler = 'x' || $1 WHERE id = $1`,
  ins: `INSERT INTO bench (id, balance, filler, ${texts.join(', ')}, _tandem_new_balance) VALUES (nextval('bench_ins'), $1::int, 'f', ${texts.map((t) => `'${t}'`).join(', ')}, $1::int)`,
};
const N = 6000;
const res: Record<string, Record<string, number[]>> = {};
for (let round = 0; round < 3; round++) for (const v of variants) {
  if (v === 'off') await admin.query('ALTER TABLE bench DISABLE TRIGGER _tandem_sync_public_w1');
  else { await admin.query('ALTER TABLE bench ENABLE TRIGGER _tandem_sync_public_w1'); await admin.query(fs.readFileSync(`/tmp/v/${v}.sql`, 'utf8')); }
  for (const [k, sql] of Object.entries(work)) {
    for (let i = 0; i < 200; i++) await c.query({ name: `${v}${k}${round}`, text: sql, values: [1 + Math.floor(Math.random() * 100000)] });
    const t0 = cpu();
    for (let i = 0; i < N; i++) await c.query({ name: `${v}${k}${round}`, text: sql, values: [1 + Math.floor(Math.random() * 100000)] });
    ((res[v] ??= {})[k] ??= []).push((cpu() - t0) / N);
  }
}
await admin.query('ALTER TABLE bench ENABLE TRIGGER _tandem_sync_public_w1'); await admin.query(fs.readFileSync(`/tmp/v/cur.sql`, 'utf8'));
for (const v of variants) console.log(v.padEnd(10), Object.entries(res[v]!).map(([k, a]) => `${k} ${Math.min(...a).toFixed(1)} (${a.map((x) => x.toFixed(0)).join('/')})`).join('  '));
await c.end(); await admin.end();
