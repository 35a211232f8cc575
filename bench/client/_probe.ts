import pg from 'pg';
import { versionRouter } from '../../src/client/index.js';
import { scratchDatabase } from './setup.js';
const db = await scratchDatabase('postgres://postgres@127.0.0.1:5432/postgres', 10000, () => undefined);
const pool = new pg.Pool({ connectionString: db.url, max: 8 });
pool.on('error', () => undefined);
const router = await versionRouter({ pool, schema: 'public' });
const router2 = await versionRouter({ pool, schema: 'public', health: false });
const nv = db.newVersion;
let i = 0;
const variants: Record<string, () => Promise<unknown>> = {
  plain: async () => { const id = 1 + (i++ % 9999); const c = await pool.connect(); try { await c.query('BEGIN'); await c.query(`SELECT * FROM public.users WHERE id = $1`, [id]); await c.query('COMMIT'); } finally { c.release(); } },
  usever: async () => { const id = 1 + (i++ % 9999); const c = await pool.connect(); try { await c.query(`BEGIN; SELECT tandem.use_version('public')`); await c.query(`SELECT * FROM users WHERE id = $1`, [id]); await c.query('COMMIT'); } finally { c.release(); } },
  setlocal: async () => { const id = 1 + (i++ % 9999); const c = await pool.connect(); try { await c.query(`BEGIN; SET LOCAL search_path TO public; SET LOCAL tandem.version TO 'public'`); await c.query(`SELECT * FROM users WHERE id = $1`, [id]); await c.query('COMMIT'); } finally { c.release(); } },
  setconfig: async () => { const id = 1 + (i++ % 9999); const c = await pool.connect(); try { await c.query(`BEGIN; SELECT set_config('search_path', 'public', true), set_config('tandem.version', 'public', true)`); await c.query(`SELECT * FROM users WHERE id = $1`, [id]); await c.query('COMMIT'); } finally { c.release(); } },
  plainjs: async () => { const id = 1 + (i++ % 9999); const t0 = performance.now(); const v = router.versionFor(`user-${id}`); const c = await pool.connect(); try { await c.query('BEGIN'); await c.query(`SELECT * FROM public.users WHERE id = $1`, [id]); await c.query('COMMIT'); } finally { c.release(); } router.recordOutcome(v, performance.now() - t0); },
  nohealth: async () => { const id = 1 + (i++ % 9999); await router2.transaction(`user-${id}`, (c) => c.query(`SELECT * FROM users WHERE id = $1`, [id])); },
  router: async () => { const id = 1 + (i++ % 9999); await router.transaction(`user-${id}`, (c) => c.query(`SELECT * FROM users WHERE id = $1`, [id])); },
};
async function runFor(op: () => Promise<unknown>, s: number) { const until = performance.now() + s * 1000; let n = 0; const t0 = performance.now(); await Promise.all(Array.from({ length: 8 }, async () => { while (performance.now() < until) { await op(); n++; } })); return n / ((performance.now() - t0) / 1000); }
const ratios: Record<string, number[]> = {};
for (let r = 0; r < 10; r++) { const base = await runFor(variants['plain']!, 0.6); for (const [k, f] of Object.entries(variants)) { if (k === 'plain') continue; const v = await runFor(f, 0.6); (ratios[k] ??= []).push(v / base); } }
for (const [k, v] of Object.entries(ratios)) { v.sort(); console.log(k, 'median', v[5]!.toFixed(3), v.map((x) => x.toFixed(2)).join(' ')); }
await router.close(); await router2.close(); await pool.end(); await db.drop();
