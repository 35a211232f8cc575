/**
 * The set-based backfill (the `up` composed in SQL, src/plan/compose-up.ts) gives byte-identical
 * rows to the trigger-driven backfill (the PL/pgSQL sync trigger computing `up` row by row).
 *
 * Each case runs `start` (set-based), keeps the text of every backfilled column of every row,
 * then turns the same migration back into a stored plan of the older shape (no composed `up`),
 * marks every row out of sync again (bypassing the trigger), and resumes `start`: the fallback
 * path backfills through the trigger. Both results must be identical, row for row, byte for byte.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type pg from 'pg';
import { complete, type EngineOptions, start } from '../../src/engine/lifecycle.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import { parseMigration } from '../../src/migration/load.js';
import type { Migration } from '../../src/migration/schema.js';
import type { BackfillStep, Plan } from '../../src/plan/types.js';
import { ident, qualified } from '../../src/sql/ident.js';
import { createTestDatabase } from '../helpers/db.js';

const options: EngineOptions = { lockTimeoutMs: 1_000, lockRetryForMs: 10_000, batchSize: 37 };
const examples = path.resolve(import.meta.dirname, '..', '..', 'examples');

function migration(doc: unknown): Migration {
  return parseMigration(doc, undefined);
}

/** Every backfilled column of every row, as text, in key order (ctid order for a key-less table). */
async function backfilled(client: pg.Client, step: BackfillStep): Promise<string[]> {
  const cols = step.up!.targets.map(ident);
  const order = step.keyColumns.length ? step.keyColumns.map(ident).join(', ') : 'ctid';
  const r = await client.query<{ v: string }>(
    `SELECT row(${[...step.keyColumns.map(ident), ...cols].join(', ')})::text AS v FROM ${qualified(step.schema, step.table)} ORDER BY ${order}`,
  );
  return r.rows.map((x) => x.v);
}

/** start set-based, then the same backfill through the trigger; returns how many backfills were compared. */
async function compareBothPaths(client: pg.Client, m: Migration): Promise<number> {
  await start(client, m, options);
  const row = await client.query<{ id: string; plan: Plan }>(`SELECT id::text, plan FROM tandem.migrations WHERE name = $1`, [m.name]);
  const { id, plan } = row.rows[0]!;
  const steps = plan.start.filter((s): s is BackfillStep => s.kind === 'backfill' && s.up !== undefined);
  const setBased = await Promise.all(steps.map((s) => backfilled(client, s)));

  // The same migration as an older tandem would have stored it: no composed `up`.
  const older = { ...plan, start: plan.start.map((s) => (s.kind === 'backfill' ? { ...s, up: undefined } : s)) };
  await client.query('BEGIN');
  await client.query(`SET LOCAL session_replication_role = replica`); // the trigger does not fire: the rows are out of sync again
  for (const s of steps) await client.query(`UPDATE ${qualified(s.schema, s.table)} SET ${ident(s.markerColumn)} = NULL`);
  await client.query(`DELETE FROM tandem.backfill_checkpoints WHERE migration_id = $1`, [id]);
  await client.query(`DELETE FROM tandem.steps WHERE migration_id = $1 AND phase = 'start' AND step_id = ANY ($2)`, [id, steps.map((s) => s.id)]);
  await client.query(`UPDATE tandem.migrations SET plan = $2, phase = 'starting' WHERE id = $1`, [id, JSON.stringify(older)]);
  await client.query('COMMIT');
  const r = await start(client, m, options);
  assert.equal(r.resumed, true);

  for (const [i, s] of steps.entries()) {
    const viaTrigger = await backfilled(client, s);
    assert.equal(viaTrigger.length, setBased[i]!.length);
    assert.deepEqual(setBased[i], viaTrigger, `${m.name}: ${s.table}: the set-based backfill differs from the trigger's`);
    const left = await client.query(`SELECT count(*)::int AS n FROM ${qualified(s.schema, s.table)} WHERE ${ident(s.markerColumn)} IS NOT TRUE`);
    assert.equal(left.rows[0].n, 0);
  }
  return steps.length;
}

test('examples/: every backfill, set-based and through the trigger, gives the same rows', async () => {
  const db = await createTestDatabase();
  try {
    const client = await db.connect('tandem-engine');
    let compared = 0;
    for (const name of [
      '01_create_users.yaml',
      '02_create_products.json',
      '03_create_orders.yaml',
      '04_add_user_columns.yaml',
      '05_rename_and_drop_columns.json',
      '06_alter_users_products.yaml',
      '07_alter_orders.json',
    ]) {
      const m = await loadMigrationFile(path.join(examples, name));
      if (name.startsWith('04')) {
        // Rows for the backfills that follow, with NULLs and edge values.
        await client.query(`
          INSERT INTO users (email, name, bio) SELECT 'u' || g || '@x.io', CASE WHEN g % 7 = 0 THEN NULL ELSE 'User ' || g END, NULL FROM generate_series(1, 300) g;
          INSERT INTO products (sku, name, price, sale_price, stock) SELECT 'sku' || g, 'P' || g, g * 1.25, NULL, CASE WHEN g % 5 = 0 THEN NULL ELSE g END FROM generate_series(1, 40) g;
          INSERT INTO orders (user_id, product_id, quantity, amount, shipping_address, legacy_ref)
            SELECT 1000 + g % 300, CASE WHEN g % 9 = 0 THEN NULL ELSE 1 + g % 60 END, (g % 13)::text, CASE WHEN g % 6 = 0 THEN NULL ELSE (g * 0.37)::text END, 'street ' || g, 'r' || g
              FROM generate_series(1, 400) g;`);
      }
      compared += await compareBothPaths(client, m);
      await complete(client, options);
    }
    assert.ok(compared >= 3, `expected several backfills among the examples, compared ${compared}`);
  } finally {
    await db.drop();
  }
});

test('chains on one table: rename then alter, two alters on one column, type + NOT NULL + default; composite and quoted text keys; a key-less table', async () => {
  const db = await createTestDatabase();
  try {
    const client = await db.connect('tandem-engine');
    await client.query(`
      CREATE TABLE items (id integer PRIMARY KEY, name text, qty text, price numeric(10,2), code varchar(8), note text);
      INSERT INTO items SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'Item ' || g END, CASE WHEN g % 5 = 0 THEN NULL ELSE (g % 17)::text END,
                               g * 0.333, 'c' || g, NULL FROM generate_series(1, 250) g;
      CREATE TABLE events (n text, tag text);
      INSERT INTO events SELECT (g % 11)::text, CASE WHEN g % 3 = 0 THEN NULL ELSE 't' || g END FROM generate_series(1, 120) g;
      CREATE TABLE lines (order_id integer, line_no integer, qty text, PRIMARY KEY (order_id, line_no));
      INSERT INTO lines SELECT g / 7, g % 7, (g % 5)::text FROM generate_series(1, 200) g;
      CREATE TABLE tags ("Code" text PRIMARY KEY, n text);
      INSERT INTO tags SELECT 'k''' || g || ' "x"', (g % 3)::text FROM generate_series(1, 90) g;`);
    const cases = [
      migration({
        name: 'rename_then_alter',
        operations: [
          { rename_column: { table: 'items', from: 'name', to: 'title' } },
          { alter_column: { table: 'items', column: 'title', nullable: false, up: "coalesce(upper(title), 'NONE')", down: 'title' } },
        ],
      }),
      migration({
        name: 'two_alters_one_column',
        operations: [
          { alter_column: { table: 'items', column: 'qty', type: 'integer', up: 'CAST(qty AS integer)', down: 'CAST(qty AS text)' } },
          { alter_column: { table: 'items', column: 'qty', type: 'bigint', up: 'qty * 1000 + 7', down: 'CAST(qty / 1000 AS integer)' } },
          { alter_column: { table: 'items', column: 'price', type: 'numeric(12,3)', up: 'price * 3', down: 'price / 3' } },
        ],
      }),
      migration({
        name: 'type_not_null_default',
        operations: [
          { alter_column: { table: 'items', column: 'qty', type: 'integer', nullable: false, default: '0', up: 'coalesce(CAST(qty AS integer), -1)', down: 'CAST(qty AS text)' } },
          { alter_column: { table: 'items', column: 'code', type: 'varchar(12)', up: "code || '-x'", down: 'CAST(code AS varchar(8))' } },
          { add_column: { table: 'items', column: { name: 'label', type: 'text', default: "'n/a'" } } },
        ],
      }),
      migration({
        name: 'composite_and_text_keys',
        operations: [
          { alter_column: { table: 'lines', column: 'qty', type: 'integer', up: 'CAST(qty AS integer) * line_no', down: 'CAST(qty AS text)' } },
          { alter_column: { table: 'tags', column: 'n', type: 'integer', up: 'CAST(n AS integer) + length("Code")', down: 'CAST(n AS text)' } },
        ],
      }),
      migration({
        name: 'no_key',
        operations: [
          {
            alter_column: {
              table: 'events',
              column: 'n',
              type: 'integer',
              nullable: false,
              up: "coalesce(CAST(n AS integer), 0) + length(coalesce(tag, ''))",
              down: 'CAST(n AS text)',
            },
          },
        ],
      }),
    ];
    for (const m of cases) {
      assert.ok((await compareBothPaths(client, m)) >= 1, `${m.name}: no backfill to compare`);
      await complete(client, options);
    }
  } finally {
    await db.drop();
  }
});
