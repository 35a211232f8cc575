/**
 * Live traffic from both application versions while `start` (with its backfill) and then
 * `complete` run. Every acknowledged write is kept in a ledger and checked at the end.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import type pg from 'pg';
import { complete, rollback, start } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { percentile, sleep, waitFor } from './support.js';

const N = 20_000;
const NAME = 'c1_traffic';
const VS = `public_${NAME}`;

const migrationDoc = (name: string) => ({
  name,
  operations: [
    { alter_column: { table: 'items', column: 'code', type: 'integer', up: 'CAST(code AS integer)', down: 'CAST(code AS text)' } },
    { alter_column: { table: 'items', column: 'note', nullable: false, up: "coalesce(note, 'none')" } },
    { rename_column: { table: 'items', from: 'label', to: 'title' } },
  ],
});
const migration = parseMigration(migrationDoc(NAME), undefined);

/** A row in the final shape (what the table holds after complete). */
interface Final {
  code: number;
  note: string;
  title: string;
}
/** A row as the old version sees it. */
interface Old {
  code: string;
  note: string | null;
  label: string;
}

const initialOld = (id: number): Old => ({ code: String((id * 7) % 1000), note: id % 3 === 0 ? null : `n${id}`, label: `L${id}` });
const toFinal = (o: Old): Final => ({ code: Number(o.code), note: o.note ?? 'none', title: o.label });

const rnd = (n: number) => Math.floor(Math.random() * n);

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, code text, note text, label text NOT NULL)`);
  await db.query(`INSERT INTO items SELECT g, ((g * 7) % 1000)::text, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END, 'L' || g FROM generate_series(1, ${N}) g`);
  await db.query('ANALYZE items');
});
/** Set after each test: client loops of a test that failed half-way stop instead of spinning forever. */
let halted = false;
afterEach(() => {
  halted = true;
});
beforeEach(() => {
  halted = false;
});
after(() => db?.drop());

test('both versions write during start, backfill and complete: no failed statement, no lost or wrong row', { timeout: 120_000 }, async () => {
  /** Expected final shape per key; null = deleted. Keys absent here are untouched original rows. */
  const ledger = new Map<number, Final | null>();
  /** Old-shape view of rows written by old clients (for their own read-back checks). */
  const oldLedger = new Map<number, Old | null>();
  const errors: string[] = [];
  const latencies: number[] = [];
  const counts: Record<string, number> = {};
  let stopOld = false;
  let stopNew = false;

  const expectedFinal = (id: number): Final | null => (ledger.has(id) ? ledger.get(id)! : id >= 1 && id <= N ? toFinal(initialOld(id)) : null);
  const expectedOld = (id: number): Old | null => (oldLedger.has(id) ? oldLedger.get(id)! : id >= 1 && id <= N ? initialOld(id) : null);

  /** `perTransaction`: the version is chosen per transaction (PgBouncer transaction mode), not by the session's search_path. */
  async function timed(c: pg.Client, label: string, sql: string, params: unknown[], perTransaction = false): Promise<pg.QueryResult | undefined> {
    const t0 = performance.now();
    try {
      let r: pg.QueryResult;
      if (perTransaction) {
        await c.query('BEGIN');
        try {
          await c.query('SELECT tandem.use_version($1)', [VS]);
          r = await c.query(sql, params);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      } else {
        r = await c.query(sql, params);
      }
      latencies.push(performance.now() - t0);
      counts[label] = (counts[label] ?? 0) + 1;
      return r;
    } catch (err) {
      errors.push(`${label}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Client `idx` (0..3) owns the original rows with id % 4 == idx and the keys it inserts
   * (idx+1)*1e6 + n, so every row has exactly one writer and the ledger is exact.
   */
  function ownedOriginal(idx: number): number {
    for (;;) {
      const id = idx + 4 * rnd(N / 4 + 1);
      if (id >= 1 && id <= N) return id;
    }
  }

  async function oldClient(idx: number): Promise<void> {
    const c = await db.connect(`old-app-${idx}`);
    const inserted: number[] = [];
    let next = (idx + 1) * 1_000_000;
    const pickLive = (): number | undefined => {
      for (let tries = 0; tries < 10; tries++) {
        const id = inserted.length && Math.random() < 0.3 ? inserted[rnd(inserted.length)]! : ownedOriginal(idx);
        if (expectedOld(id) !== null) return id;
      }
      return undefined;
    };
    const value = (): Old => ({ code: String(rnd(100_000)), note: Math.random() < 0.3 ? null : `o${rnd(1e6)}`, label: `ol${rnd(1e6)}` });
    const record = (id: number, o: Old | null) => {
      oldLedger.set(id, o);
      ledger.set(id, o && toFinal(o));
    };
    while (!stopOld && !halted) {
      const dice = rnd(100);
      if (dice < 22) {
        const id = ++next;
        const v = value();
        const r = await timed(c, 'old insert', `INSERT INTO items (id, code, note, label) VALUES ($1, $2, $3, $4)`, [id, v.code, v.note, v.label]);
        if (r) {
          inserted.push(id);
          record(id, v);
        }
      } else if (dice < 50) {
        // Partial updates of any owned row, most of them original rows the backfill may not have reached yet.
        const id = pickLive();
        if (id === undefined) continue;
        const prev = expectedOld(id)!;
        const v = value();
        const which = rnd(3);
        const sql =
          which === 0
            ? `UPDATE items SET code = $2 WHERE id = $1`
            : which === 1
              ? `UPDATE items SET note = $2 WHERE id = $1`
              : `UPDATE items SET code = $2, note = $3, label = $4 WHERE id = $1`;
        const params = which === 0 ? [id, v.code] : which === 1 ? [id, v.note] : [id, v.code, v.note, v.label];
        const r = await timed(c, 'old update', sql, params);
        if (r) {
          if (r.rowCount !== 1) errors.push(`old update of ${id}: ${r.rowCount} rows`);
          record(id, which === 0 ? { ...prev, code: v.code } : which === 1 ? { ...prev, note: v.note } : v);
        }
      } else if (dice < 65) {
        const id = Math.random() < 0.5 ? ++next : pickLive();
        if (id === undefined) continue;
        const v = value();
        const r = await timed(
          c,
          'old upsert',
          `INSERT INTO items (id, code, note, label) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code, note = EXCLUDED.note, label = EXCLUDED.label
           RETURNING id, code, note, label`,
          [id, v.code, v.note, v.label],
        );
        if (r) {
          const row = r.rows[0];
          if (!row || row.code !== v.code || row.note !== v.note || row.label !== v.label) errors.push(`old upsert RETURNING ${JSON.stringify(row)} != ${JSON.stringify(v)}`);
          if (id > N && !inserted.includes(id)) inserted.push(id);
          record(id, v);
        }
      } else if (dice < 73) {
        const id = pickLive();
        if (id === undefined) continue;
        const r = await timed(c, 'old delete', `DELETE FROM items WHERE id = $1`, [id]);
        if (r) {
          if (r.rowCount !== 1) errors.push(`old delete of ${id}: ${r.rowCount} rows`);
          record(id, null);
        }
      } else if (dice < 80) {
        // A transaction that keeps a few rows locked for a while (the backfill must skip them and
        // come back), then commits or rolls back (a rolled-back write must leave the row unsynced).
        const ids = [...new Set([pickLive(), pickLive(), pickLive()].filter((x): x is number => x !== undefined))];
        if (ids.length === 0) continue;
        const code = String(rnd(100_000));
        const commit = Math.random() < 0.5;
        try {
          await c.query('BEGIN');
          const r = await c.query(`UPDATE items SET code = $2 WHERE id = ANY ($1::bigint[])`, [ids, code]);
          if (r.rowCount !== ids.length) errors.push(`old txn update of ${ids}: ${r.rowCount} rows`);
          await sleep(15);
          await c.query(commit ? 'COMMIT' : 'ROLLBACK');
          counts[commit ? 'old txn commit' : 'old txn rollback'] = (counts[commit ? 'old txn commit' : 'old txn rollback'] ?? 0) + 1;
          if (commit) for (const id of ids) record(id, { ...expectedOld(id)!, code });
        } catch (err) {
          errors.push(`old txn: ${(err as Error).message}`);
          await c.query('ROLLBACK').catch(() => undefined);
        }
      } else {
        const id = Math.random() < 0.5 && inserted.length ? inserted[rnd(inserted.length)]! : ownedOriginal(idx);
        const r = await timed(c, 'old select', `SELECT code, note, label FROM items WHERE id = $1`, [id]);
        if (r) {
          const want = expectedOld(id);
          const got = r.rows[0] ?? null;
          if (JSON.stringify(got) !== JSON.stringify(want)) errors.push(`old select ${id}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        }
      }
      await sleep(1);
    }
  }

  async function newClient(idx: number, perTransaction: boolean): Promise<void> {
    const c = await db.connect(`new-app-${idx}`);
    if (!perTransaction) await c.query(`SET search_path TO ${VS}`);
    const run = (label: string, sql: string, params: unknown[]) => timed(c, label, sql, params, perTransaction);
    const inserted: number[] = [];
    let next = (idx + 1) * 1_000_000;
    // Pointed at the version schema the moment it exists, it reads and writes any row it owns.
    const pickLive = (): number | undefined => {
      for (let tries = 0; tries < 10; tries++) {
        const id = inserted.length && Math.random() < 0.3 ? inserted[rnd(inserted.length)]! : ownedOriginal(idx);
        if (expectedFinal(id) !== null) return id;
      }
      return undefined;
    };
    const value = (): Final => ({ code: rnd(100_000), note: `w${rnd(1e6)}`, title: `nt${rnd(1e6)}` });
    while (!stopNew && !halted) {
      const dice = rnd(100);
      if (dice < 22) {
        const id = ++next;
        const v = value();
        const r = await run('new insert', `INSERT INTO items (id, code, note, title) VALUES ($1, $2, $3, $4)`, [id, v.code, v.note, v.title]);
        if (r) {
          inserted.push(id);
          ledger.set(id, v);
        }
      } else if (dice < 50) {
        const id = pickLive();
        if (id === undefined) continue;
        const prev = expectedFinal(id)!;
        const v = value();
        const which = rnd(3);
        const sql =
          which === 0
            ? `UPDATE items SET code = $2 WHERE id = $1`
            : which === 1
              ? `UPDATE items SET title = $2 WHERE id = $1`
              : `UPDATE items SET code = $2, note = $3, title = $4 WHERE id = $1`;
        const params = which === 0 ? [id, v.code] : which === 1 ? [id, v.title] : [id, v.code, v.note, v.title];
        const r = await run('new update', sql, params);
        if (r) {
          if (r.rowCount !== 1) errors.push(`new update of ${id}: ${r.rowCount} rows`);
          ledger.set(id, which === 0 ? { ...prev, code: v.code } : which === 1 ? { ...prev, title: v.title } : v);
        }
      } else if (dice < 65) {
        const id = Math.random() < 0.5 ? ++next : pickLive();
        if (id === undefined) continue;
        const v = value();
        const r = await run(
          'new upsert',
          `INSERT INTO items (id, code, note, title) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code, note = EXCLUDED.note, title = EXCLUDED.title
           RETURNING id, code, note, title`,
          [id, v.code, v.note, v.title],
        );
        if (r) {
          const row = r.rows[0];
          if (!row || row.code !== v.code || row.note !== v.note || row.title !== v.title) errors.push(`new upsert RETURNING ${JSON.stringify(row)} != ${JSON.stringify(v)}`);
          if (id > N && !inserted.includes(id)) inserted.push(id);
          ledger.set(id, v);
        }
      } else if (dice < 73) {
        const id = pickLive();
        if (id === undefined) continue;
        const r = await run('new delete', `DELETE FROM items WHERE id = $1`, [id]);
        if (r) {
          if (r.rowCount !== 1) errors.push(`new delete of ${id}: ${r.rowCount} rows`);
          ledger.set(id, null);
        }
      } else {
        const id = inserted.length && Math.random() < 0.5 ? inserted[rnd(inserted.length)]! : ownedOriginal(idx);
        const r = await run('new select', `SELECT code, note, title FROM items WHERE id = $1`, [id]);
        if (r) {
          const want = expectedFinal(id);
          const got = r.rows[0] ?? null;
          if (JSON.stringify(got) !== JSON.stringify(want)) errors.push(`new select ${id}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        }
      }
      await sleep(1);
    }
  }

  const runner = await db.connect('tandem-runner');
  const oldClients = [oldClient(0), oldClient(1)];
  await sleep(200); // traffic is flowing before the migration starts

  const t0 = performance.now();
  const starting = start(runner, migration, { batchSize: 200, batchDelayMs: 10, lockTimeoutMs: 50, lockRetryForMs: 60_000 });
  // The new version is deployed the moment its version schema exists.
  const newClients = waitFor('version schema', async () => (await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [VS])).rowCount, 30_000, 5).then(() =>
    Promise.all([newClient(2, false), newClient(3, true)]),
  );
  await waitFor('the backfill to make progress', async () => {
    const r = await db.query(`SELECT batches, done FROM tandem.backfill_checkpoints`).catch(() => ({ rows: [] as { batches: string; done: boolean }[] }));
    return r.rows.length > 0 && Number(r.rows[0]!.batches) >= 5 && !r.rows[0]!.done;
  });
  const countsMidBackfill = { ...counts };
  // Mid-backfill the new version is not reachable yet: its shadow columns are still being filled.
  assert.equal((await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [VS])).rowCount, 0, 'version schema exists before the backfill is done');
  await starting;
  const startMs = performance.now() - t0;
  // The backfill really overlapped live writes of the old version, on rows it had not reached yet.
  assert.ok((countsMidBackfill['old update'] ?? 0) > 20, 'old clients updated rows during the backfill');

  // Both versions live side by side, until each kind of write has run a fair number of times.
  await sleep(500);
  const writes = ['insert', 'update', 'upsert', 'delete'].flatMap((k) => [`old ${k}`, `new ${k}`]);
  await waitFor('traffic of every kind', async () => writes.every((w) => (counts[w] ?? 0) >= 20), 60_000, 50);
  stopOld = true;
  await Promise.all(oldClients);

  // Before contracting: everything the old version wrote reads correctly through the new version.
  const check = await db.connect('checker');
  await check.query(`SET search_path TO ${VS}`);
  const isOldOwned = (id: number) => (id <= N && id % 4 <= 1) || (id >= 1_000_000 && id < 3_000_000);
  const oldOwned = (await check.query(`SELECT id::int AS id, code, note, title FROM items WHERE (id <= ${N} AND id % 4 IN (0, 1)) OR (id >= 1000000 AND id < 3000000)`)).rows;
  const seen = new Set<number>();
  for (const row of oldOwned) {
    seen.add(row.id);
    assert.deepEqual({ code: row.code, note: row.note, title: row.title }, expectedFinal(row.id), `row ${row.id} through the new version before complete`);
  }
  for (let id = 1; id <= N; id++) if (isOldOwned(id) && expectedFinal(id) !== null) assert.ok(seen.has(id), `row ${id} is visible to the new version`);
  for (const [id, want] of ledger) if (isOldOwned(id) && want !== null) assert.ok(seen.has(id), `row ${id} written by the old version is visible to the new one`);
  assert.ok(oldOwned.length > N / 3);

  const t1 = performance.now();
  await complete(runner, { lockTimeoutMs: 50, lockRetryForMs: 60_000 });
  const completeMs = performance.now() - t1;
  await sleep(300);
  stopNew = true;
  await newClients;

  assert.deepEqual(errors.slice(0, 20), [], `${errors.length} failed or wrong statements`);

  // Final shape: the new version's columns and nothing of tandem's left behind.
  const cols = (
    await db.query(
      `SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull FROM pg_attribute
        WHERE attrelid = 'public.items'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    )
  ).rows;
  assert.deepEqual(cols.map((c) => `${c.attname} ${c.type}${c.attnotnull ? ' not null' : ''}`).sort(), [
    'code integer',
    'id bigint not null',
    'note text not null',
    'title text not null',
  ]);
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'public.items'::regclass AND NOT tgisinternal`)).rows[0].n, 0);

  // Every acknowledged write is there with the right values; deleted rows are gone.
  const rows = (await db.query(`SELECT id::int AS id, code, note, title FROM public.items`)).rows;
  const actual = new Map<number, Final>(rows.map((r) => [r.id, { code: r.code, note: r.note, title: r.title }]));
  const expectedKeys = new Set<number>();
  for (let id = 1; id <= N; id++) if (expectedFinal(id) !== null) expectedKeys.add(id);
  for (const [id, v] of ledger) if (v !== null) expectedKeys.add(id);
  let wrong = 0;
  const samples: string[] = [];
  for (const id of expectedKeys) {
    const got = actual.get(id);
    const want = expectedFinal(id);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      wrong++;
      if (samples.length < 5) samples.push(`${id}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  }
  for (const id of actual.keys()) {
    if (!expectedKeys.has(id)) {
      wrong++;
      if (samples.length < 5) samples.push(`${id}: present but deleted (or never written)`);
    }
  }
  assert.deepEqual(samples, [], `${wrong} rows differ from the ledger`);
  assert.equal(actual.size, expectedKeys.size);
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM public.items WHERE note IS NULL OR title IS NULL OR code IS NULL`)).rows[0].n, 0);

  assert.ok((counts['old txn rollback'] ?? 0) > 0 && (counts['old txn commit'] ?? 0) > 0);
  for (const w of writes) assert.ok((counts[w] ?? 0) > 10, `enough "${w}" statements ran (${counts[w] ?? 0})`);
  console.log(
    `# traffic: start ${Math.round(startMs)} ms, complete ${Math.round(completeMs)} ms, ${latencies.length} statements, ` +
      `${ledger.size} keys written, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; ${JSON.stringify(counts)}`,
  );
});

test("rollback under old-version traffic: no failed statement; every write, including the new version's, is there in the old shape", { timeout: 120_000 }, async () => {
  const R = 5_000;
  const NAME2 = 'c2_traffic';
  const VS2 = `public_${NAME2}`;
  const rdb = await createTestDatabase();
  try {
    await rdb.query(`CREATE TABLE items (id bigint PRIMARY KEY, code text, note text, label text NOT NULL)`);
    await rdb.query(`INSERT INTO items SELECT g, ((g * 7) % 1000)::text, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END, 'L' || g FROM generate_series(1, ${R}) g`);
    const before = await catalogSnapshot(await rdb.connect('snap'));
    const m2 = parseMigration(migrationDoc(NAME2), undefined);

    /** Old shape per key; null = deleted. */
    const ledger = new Map<number, Old | null>();
    const expected = (id: number): Old | null => (ledger.has(id) ? ledger.get(id)! : id <= R ? initialOld(id) : null);
    const errors: string[] = [];
    let ops = 0;
    let stopOld = false;
    let stopNew = false;

    const oldLoop = async (idx: number) => {
      const c = await rdb.connect(`old-${idx}`);
      let next = (idx + 1) * 1_000_000;
      while (!stopOld && !halted) {
        // Old client idx owns the original rows ≡ 2·idx (mod 4) and the keys it inserts.
        const dice = rnd(4);
        const id = dice === 0 ? ++next : 4 * (1 + rnd(R / 4 - 1)) + 2 * idx;
        const v: Old = { code: String(rnd(1000)), note: rnd(3) === 0 ? null : `o${rnd(1e6)}`, label: `ol${rnd(1e6)}` };
        try {
          if (dice === 0 || dice === 1) {
            const r = await c.query(
              `INSERT INTO items (id, code, note, label) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code, note = EXCLUDED.note, label = EXCLUDED.label RETURNING code`,
              [id, v.code, v.note, v.label],
            );
            if (r.rows[0]?.code !== v.code) errors.push(`old upsert ${id}: RETURNING ${JSON.stringify(r.rows[0])}`);
            ledger.set(id, v);
          } else if (dice === 2) {
            const r = await c.query(`DELETE FROM items WHERE id = $1`, [id]);
            if (r.rowCount !== (expected(id) === null ? 0 : 1)) errors.push(`old delete ${id}: ${r.rowCount}`);
            ledger.set(id, null);
          } else {
            const r = await c.query(`SELECT code, note, label FROM items WHERE id = $1`, [id]);
            if (JSON.stringify(r.rows[0] ?? null) !== JSON.stringify(expected(id)))
              errors.push(`old select ${id}: ${JSON.stringify(r.rows[0])} != ${JSON.stringify(expected(id))}`);
          }
          ops++;
        } catch (err) {
          errors.push(`old: ${(err as Error).message}`);
        }
        await sleep(1);
      }
    };
    const newLoop = async () => {
      const c = await rdb.connect('new');
      await c.query(`SET search_path TO ${VS2}`);
      let next = 9_000_000;
      while (!stopNew && !halted) {
        // The new version owns the original rows ≡ 1 (mod 4) and the keys it inserts.
        const id = rnd(2) === 0 ? ++next : 4 * rnd(R / 4) + 1;
        const v: Final = { code: rnd(1000), note: `w${rnd(1e6)}`, title: `nt${rnd(1e6)}` };
        try {
          await c.query(
            `INSERT INTO items (id, code, note, title) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code, note = EXCLUDED.note, title = EXCLUDED.title`,
            [id, v.code, v.note, v.title],
          );
          ledger.set(id, { code: String(v.code), note: v.note, label: v.title });
          ops++;
        } catch (err) {
          errors.push(`new: ${(err as Error).message}`);
        }
        await sleep(1);
      }
    };

    const olds = [oldLoop(0), oldLoop(1)];
    await sleep(100);
    const runner = await rdb.connect('tandem');
    await start(runner, m2, { batchSize: 200, batchDelayMs: 5 });
    const news = [newLoop()];
    await waitFor('new-version writes', async () => [...ledger.keys()].filter((k) => k >= 9_000_000).length >= 20, 30_000);
    stopNew = true;
    await Promise.all(news);
    await rollback(runner, { lockTimeoutMs: 50 });
    await sleep(200);
    stopOld = true;
    await Promise.all(olds);

    assert.deepEqual(errors.slice(0, 10), [], `${errors.length} failed or wrong statements`);
    assert.deepEqual(await catalogSnapshot(runner), before, 'catalog as before start');
    const rows = (await rdb.query(`SELECT id::int AS id, code, note, label FROM items`)).rows;
    const actual = new Map<number, Old>(rows.map((r) => [r.id, { code: r.code, note: r.note, label: r.label }]));
    const keys = new Set<number>([...Array.from({ length: R }, (_, i) => i + 1), ...ledger.keys()]);
    const bad: string[] = [];
    for (const id of keys) {
      const want = expected(id);
      const got = actual.get(id) ?? null;
      if (JSON.stringify(got) !== JSON.stringify(want) && bad.length < 5) bad.push(`${id}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    assert.deepEqual(bad, []);
    assert.equal(actual.size, [...keys].filter((k) => expected(k) !== null).length);
    assert.ok(ops > 100, `traffic ran (${ops} statements)`);
  } finally {
    await rdb.drop();
  }
});
