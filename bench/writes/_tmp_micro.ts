import pg from 'pg';
const cols = Number(process.argv[2] ?? 5);
const variantFile = process.argv[3];
const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/wq_trig_${cols}` });
await c.connect();
const fs = await import('node:fs');
if (variantFile) await c.query(fs.readFileSync(variantFile, 'utf8'));
const texts = Array.from({ length: cols - 3 }, (_, i) => `c${i + 3}`);
const stmts: Record<string, string> = {
  update: `UPDATE bench SET balance = balance + 1 WHERE id <= 20000`,
  'update-other': `UPDATE bench SET filler = 'x' WHERE id <= 20000`,
  insert: `INSERT INTO bench (id, balance, filler, ${texts.join(', ')}) SELECT 1000000 + g, g, 'f', ${texts.map((t) => `'${t}'`).join(', ')} FROM generate_series(1, 20000) g`,
  'new-update': `UPDATE public_w1.bench SET balance = balance + 1 WHERE id <= 20000`,
  'new-insert': `INSERT INTO public_w1.bench (id, balance, filler, ${texts.join(', ')}) SELECT 1000000 + g, g, 'f', ${texts.map((t) => `'${t}'`).join(', ')} FROM generate_series(1, 20000) g`,
};
const out: string[] = [];
for (const [k, sql] of Object.entries(stmts)) {
  const times: number[] = [];
  const totals: number[] = [];
  for (let i = 0; i < 5; i++) {
    await c.query('BEGIN');
    if (k.startsWith('new')) await c.query(`SET LOCAL tandem.version = 'w1'`);
    const r = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`);
    await c.query('ROLLBACK');
    const plan = r.rows[0]['QUERY PLAN'][0];
    const trig = (plan.Triggers ?? []).reduce((s: number, t: any) => s + t.Time, 0);
    times.push(trig); totals.push(plan['Execution Time']);
  }
  await c.query('VACUUM bench');
  const min = Math.min(...times), tot = Math.min(...totals);
  out.push(`${k}: trigger ${(min / 20).toFixed(2)} µs/row, statement ${(tot / 20).toFixed(2)} µs/row`);
}
console.log(out.join('\n'));
await c.end();
