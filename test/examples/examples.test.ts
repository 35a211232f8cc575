/**
 * The migrations in examples/ run in order on one database, like a small shop's schema evolving.
 * Each goes start → rollback (the catalog must be exactly as before) → start → complete, with a
 * little data seeded beforehand so that backfills do real work, writes through the old and the
 * new version while both are live, and checks that the final state is what the example intends.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { complete, type EngineOptions, rollback, start } from '../../src/engine/lifecycle.js';
import { loadMigrationFile } from '../../src/migration/load.js';
import { allOperationKinds, type Migration } from '../../src/migration/schema.js';
import { ident } from '../../src/sql/ident.js';
import { catalogSnapshot, notStateFunction } from '../helpers/catalog.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples');
/** Small batches, so that a few dozen rows take several of them. */
const options: EngineOptions = { lockTimeoutMs: 1_000, lockRetryForMs: 10_000, batchSize: 7, batchDelayMs: 0 };

interface Ctx {
  db: TestDatabase;
  /** The connection the engine runs on; also used for catalog queries on public. */
  engine: pg.Client;
  /** The migration's version schema (new version) and the one before it (old version; public at first). */
  versionSchema: string;
  previousSchema: string;
  /** A client whose search_path is the given version schema. */
  as(schema: string): Promise<pg.Client>;
}

interface Example {
  file: string;
  /** SQL run on the base tables before the first start. */
  seed?: string;
  /** While both versions are live (after the second start, before complete). */
  during?: (ctx: Ctx) => Promise<void>;
  /** After complete: the state the example intends. */
  after: (ctx: Ctx) => Promise<void>;
}

async function one<T = Record<string, unknown>>(c: pg.Client, sql: string, params: unknown[] = []): Promise<T> {
  const r = await c.query(sql, params);
  assert.equal(r.rows.length, 1, `expected one row from: ${sql}`);
  return r.rows[0] as T;
}

async function rows<T = Record<string, unknown>>(c: pg.Client, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await c.query(sql, params)).rows as T[];
}

async function column(c: pg.Client, table: string, name: string) {
  return one<{ type: string; notnull: boolean; default: string | null; identity: string; generated: string; comment: string | null } | undefined>(
    c,
    `SELECT format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS default,
            a.attidentity AS identity, a.attgenerated AS generated, col_description(a.attrelid, a.attnum) AS comment
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`,
    [`public.${ident(table)}`, name],
  );
}

async function columnNames(c: pg.Client, schema: string, table: string): Promise<string[]> {
  const r = await rows<{ attname: string }>(
    c,
    `SELECT a.attname::text AS attname FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, table],
  );
  return r.map((x) => x.attname);
}

interface ConstraintRow {
  def: string;
  validated: boolean;
}
async function constraint(c: pg.Client, table: string, name: string): Promise<ConstraintRow | undefined> {
  const r = await rows<ConstraintRow>(
    c,
    `SELECT pg_get_constraintdef(oid) AS def, convalidated AS validated FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`,
    [`public.${ident(table)}`, name],
  );
  return r[0];
}

async function assertConstraint(c: pg.Client, table: string, name: string, def: string): Promise<void> {
  assert.deepEqual(await constraint(c, table, name), { def, validated: true }, `constraint ${name} on ${table}`);
}

async function indexDef(c: pg.Client, name: string): Promise<{ def: string; valid: boolean } | undefined> {
  const r = await rows<{ def: string; valid: boolean }>(
    c,
    `SELECT pg_get_indexdef(i.indexrelid) AS def, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = $1`,
    [name],
  );
  return r[0];
}

async function assertIndex(c: pg.Client, name: string, def: string): Promise<void> {
  assert.deepEqual(await indexDef(c, name), { def, valid: true }, `index ${name}`);
}

async function count(c: pg.Client, sql: string): Promise<number> {
  return (await one<{ n: number }>(c, `SELECT (${sql})::int AS n`)).n;
}

/** Nothing of Tandem's left in public after complete: no helper column, constraint, index or trigger, no sync function. */
async function assertNoLeftovers(c: pg.Client): Promise<void> {
  const left = await rows(
    c,
    `SELECT 'column' AS kind, t.relname || '.' || a.attname AS name FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public' AND t.relkind = 'r' AND a.attname LIKE '\\_tandem%' AND NOT a.attisdropped
     UNION ALL SELECT 'constraint', conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conname LIKE '\\_tandem%'
     UNION ALL SELECT 'index', indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE '\\_tandem%'
     UNION ALL SELECT 'invalid index', c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid
     UNION ALL SELECT 'trigger', tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
     UNION ALL SELECT 'function', proname FROM pg_proc WHERE pronamespace = 'tandem'::regnamespace AND ${notStateFunction('proname')}`,
  );
  assert.deepEqual(left, [], 'tandem leftovers after complete');
}

const examples: Example[] = [
  {
    file: '01_create_users.yaml',
    async after({ engine }) {
      assert.deepEqual(await column(engine, 'users', 'id'), { type: 'bigint', notnull: true, default: null, identity: 'd', generated: '', comment: 'Surrogate key' });
      assert.equal((await one<{ s: string }>(engine, `SELECT pg_get_serial_sequence('users', 'id') AS s`)).s, 'public.users_id_seq');
      assert.equal((await one<{ start_value: string }>(engine, `SELECT start_value::text FROM pg_sequences WHERE sequencename = 'users_id_seq'`)).start_value, '1000');
      assert.equal((await column(engine, 'users', 'email'))?.comment, 'Sign-in address');
      assert.equal((await column(engine, 'users', 'name'))?.notnull, false);
      assert.equal((await column(engine, 'users', 'created_at'))?.default, 'now()');
      assert.equal((await column(engine, 'users', 'status'))?.default, "'active'::text");
      await assertConstraint(engine, 'users', 'users_pkey', 'PRIMARY KEY (id)');
      await assertConstraint(engine, 'users', 'users_email_key', 'UNIQUE (email)');
      await assertConstraint(engine, 'users', 'users_status_valid', "CHECK ((status = ANY (ARRAY['active'::text, 'suspended'::text, 'closed'::text])))");
      assert.equal((await one<{ c: string }>(engine, `SELECT obj_description('public.users'::regclass, 'pg_class') AS c`)).c, 'People who sign in and place orders');
      // The identity hands out ids from 1000 on.
      const u = await one<{ id: string }>(engine, `INSERT INTO users (email) VALUES ('first@example.com') RETURNING id`);
      assert.equal(u.id, '1000');
      await engine.query(`DELETE FROM users`);
    },
  },
  {
    file: '02_create_products.json',
    async after({ engine }) {
      assert.equal((await column(engine, 'products', 'id'))?.identity, 'a');
      const search = await column(engine, 'products', 'search');
      assert.equal(search?.generated, 's');
      assert.equal(search?.comment, 'Full-text document, computed from name and sku');
      assert.equal(search?.default, `to_tsvector('simple'::regconfig, ((name || ' '::text) || sku))`);
      assert.equal((await column(engine, 'products', 'tags'))?.default, `'{}'::text[]`);
      await assertConstraint(engine, 'products', 'products_sku_key', 'UNIQUE (sku)');
      await assertConstraint(engine, 'products', 'products_price_nonnegative', 'CHECK ((price >= (0)::numeric))');
      await assertConstraint(engine, 'products', 'products_sale_below_price', 'CHECK (((sale_price IS NULL) OR (sale_price <= price)))');
      await assertConstraint(engine, 'products', 'products_vendor_name_key', 'UNIQUE (vendor, name) INCLUDE (price)');
      await assertIndex(engine, 'products_vendor_name_key', "CREATE UNIQUE INDEX products_vendor_name_key ON public.products USING btree (vendor, name) INCLUDE (price) WITH (fillfactor='90')");
      assert.equal((await one<{ c: string }>(engine, `SELECT obj_description('public.products'::regclass, 'pg_class') AS c`)).c, 'The catalogue');
    },
  },
  {
    file: '03_create_orders.yaml',
    async after({ engine }) {
      await assertConstraint(engine, 'orders', 'orders_user_fk', 'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE');
      await assertConstraint(engine, 'orders', 'orders_shipped_after_created', 'CHECK (((shipped_at IS NULL) OR (shipped_at >= created_at))) NO INHERIT');
      assert.equal((await column(engine, 'orders', 'quantity'))?.comment, 'Legacy: a number stored as text');
      await assertConstraint(engine, 'order_items', 'order_items_pkey', 'PRIMARY KEY (order_id, line_no)');
      await assertConstraint(engine, 'order_items', 'order_items_order_fk', 'FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE');
      await assertConstraint(engine, 'order_items', 'order_items_product_fk', 'FOREIGN KEY (product_id) REFERENCES products(id) ON UPDATE CASCADE ON DELETE RESTRICT');
      await assertConstraint(engine, 'order_items', 'order_items_quantity_positive', 'CHECK ((quantity > 0))');
      await assertConstraint(
        engine,
        'returns',
        'returns_order_item_fk',
        'FOREIGN KEY (order_id, line_no) REFERENCES order_items(order_id, line_no) MATCH FULL ON UPDATE CASCADE ON DELETE CASCADE DEFERRABLE',
      );
      await assertConstraint(engine, 'returns', 'returns_handled_by_fk', 'FOREIGN KEY (handled_by) REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED');
      assert.equal((await column(engine, 'returns', 'id'))?.identity, 'a');
      await assertConstraint(engine, 'promotions', 'promotions_no_overlap', 'EXCLUDE USING gist (during WITH &&) WHERE (active)');
      assert.equal((await column(engine, 'shipments', 'id'))?.default, 'gen_random_uuid()');
      assert.equal((await one<{ c: string }>(engine, `SELECT obj_description('public.shipments'::regclass, 'pg_class') AS c`)).c, 'One parcel per order line');
      assert.equal(await count(engine, `SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.page_views'::regclass AND contype IN ('p', 'u')`), 0);
      assert.deepEqual(await columnNames(engine, 'public_03_create_orders', 'legacy_carts'), ['id', 'payload']);
    },
  },
  {
    file: '04_add_user_columns.yaml',
    seed: `
      INSERT INTO users (id, email, name, status, bio)
        SELECT g, 'user' || g || '@example.com', CASE WHEN g % 5 = 0 THEN NULL ELSE 'User ' || g END,
               CASE WHEN g % 7 = 0 THEN 'suspended' ELSE 'active' END, 'Bio of ' || g
          FROM generate_series(1, 60) g;
      INSERT INTO products (id, sku, name, vendor, vendor_sku, price, sale_price, stock, tags) OVERRIDING SYSTEM VALUE
        SELECT g, 'SKU-' || g, 'Product ' || g, CASE WHEN g % 2 = 0 THEN 'acme' ELSE 'house' END,
               CASE WHEN g % 3 = 0 THEN NULL ELSE 'V' || g END, g * 1.5, CASE WHEN g % 4 = 0 THEN g * 1.25 END,
               CASE WHEN g % 6 = 0 THEN NULL ELSE g * 10 END, ARRAY['tag' || (g % 3), 'all']
          FROM generate_series(1, 20) g;
      -- One open order per user (orders 1-60), the rest shipped; orders 10, 20, … name a product that does not exist.
      INSERT INTO orders (id, user_id, product_id, quantity, amount, status, shipping_address, legacy_ref, created_at, shipped_at) OVERRIDING SYSTEM VALUE
        SELECT g, 1 + g % 60, CASE WHEN g % 10 = 0 THEN 999 ELSE 1 + g % 20 END, (g % 4)::text,
               CASE WHEN g % 9 = 0 THEN NULL ELSE (g * 3.5)::text END, CASE WHEN g <= 60 THEN 'open' ELSE 'shipped' END,
               'Street ' || g, 'L-' || g, now() - g * interval '1 hour',
               CASE WHEN g > 60 THEN now() - g * interval '1 hour' + interval '1 day' END
          FROM generate_series(1, 90) g;
      INSERT INTO order_items (order_id, line_no, product_id, quantity)
        SELECT o, l, 1 + (o + l) % 20, l FROM generate_series(1, 90) o, generate_series(1, 2) l;
      INSERT INTO shipments (order_id, line_no, tracking_number) SELECT o, 1, 'TRK-' || o FROM generate_series(61, 90) o;
      INSERT INTO returns (order_id, line_no, reason) SELECT o, 2, 'damaged' FROM generate_series(1, 5) o;
      INSERT INTO promotions (during) VALUES (tstzrange('2024-01-01', '2024-02-01')), (tstzrange('2024-02-01', '2024-03-01'));
      INSERT INTO legacy_carts SELECT g, jsonb_build_object('items', g) FROM generate_series(1, 5) g;
      INSERT INTO page_views (user_id, path) SELECT 1 + g % 60, '/p/' || g FROM generate_series(1, 50) g;
      SELECT setval(pg_get_serial_sequence('products', 'id'), 100), setval(pg_get_serial_sequence('orders', 'id'), 1000);
    `,
    async during({ as, previousSchema, versionSchema }) {
      assert.equal(versionSchema, 'public_users_v2');
      // The old version inserts without the new columns: `up` and the defaults fill them.
      const old = await as(previousSchema);
      await old.query(`INSERT INTO users (id, email, name) VALUES (61, 'ann@example.com', NULL), (62, 'bob@example.com', 'Bob')`);
      const neu = await as(versionSchema);
      assert.deepEqual(await rows(neu, `SELECT id::int, display_name, plan, last_login_at IS NOT NULL AS seen FROM users WHERE id IN (5, 6, 61, 62) ORDER BY id`), [
        { id: 5, display_name: 'user5', plan: 'free', seen: true },
        { id: 6, display_name: 'User 6', plan: 'free', seen: true },
        { id: 61, display_name: 'ann', plan: 'free', seen: true },
        { id: 62, display_name: 'Bob', plan: 'free', seen: true },
      ]);
      // The new version uses them, and its check already applies to what it writes.
      await neu.query(`UPDATE users SET referred_by = 1, phone = '+44 20 7946 0000' WHERE id = 2`);
      await assert.rejects(neu.query(`UPDATE users SET phone = 'not a phone' WHERE id = 3`), { code: '23514' });
    },
    async after({ engine }) {
      assert.deepEqual(await columnNames(engine, 'public', 'users'), [
        'id', 'email', 'name', 'status', 'created_at', 'bio', 'display_name', 'plan', 'last_login_at', 'phone', 'referred_by',
      ]);
      assert.deepEqual(await column(engine, 'users', 'display_name'), { type: 'text', notnull: true, default: null, identity: '', generated: '', comment: null });
      assert.equal((await column(engine, 'users', 'plan'))?.default, "'free'::text");
      assert.equal((await column(engine, 'users', 'last_login_at'))?.notnull, true);
      assert.equal((await column(engine, 'users', 'last_login_at'))?.default, 'now()');
      assert.equal((await column(engine, 'users', 'phone'))?.notnull, false);
      assert.equal((await column(engine, 'users', 'referred_by'))?.comment, 'Who invited this user');
      await assertConstraint(engine, 'users', 'users_phone_format', "CHECK ((phone ~ '^[+]?[0-9 ]+$'::text)) NO INHERIT");
      await assertConstraint(engine, 'users', 'users_referred_by_fk', 'FOREIGN KEY (referred_by) REFERENCES users(id) ON DELETE SET NULL');
      assert.equal(await count(engine, `SELECT count(*) FROM users WHERE display_name IS NULL OR last_login_at IS NULL OR plan <> 'free'`), 0);
      assert.equal(await count(engine, `SELECT count(*) FROM users WHERE id % 5 = 0 AND id <= 60 AND display_name <> 'user' || id`), 0);
      assert.equal((await column(engine, 'orders', 'gift'))?.default, 'false');
      assert.equal(await count(engine, `SELECT count(*) FROM orders WHERE gift`), 0);
    },
  },
  {
    file: '05_rename_and_drop_columns.json',
    async during({ as, previousSchema, versionSchema }) {
      const neu = await as(versionSchema);
      assert.deepEqual(await columnNames(neu, versionSchema, 'users'), [
        'id', 'email', 'full_name', 'status', 'created_at', 'display_name', 'plan', 'last_login_at', 'phone', 'referred_by',
      ]);
      // The new version writes orders without legacy_ref; the old version reads `down`.
      const o = await one<{ id: string }>(neu, `INSERT INTO orders (user_id, quantity, amount, status, shipping_address) VALUES (2, '3', '9.99', 'shipped', 'Quay 1') RETURNING id`);
      const old = await as(previousSchema);
      assert.deepEqual(await one(old, `SELECT name, bio FROM users WHERE id = 1`), { name: 'User 1', bio: 'Bio of 1' });
      assert.equal((await one<{ legacy_ref: string }>(old, `SELECT legacy_ref FROM orders WHERE id = $1`, [o.id])).legacy_ref, `ORD-${o.id}`);
    },
    async after({ engine }) {
      assert.deepEqual(await columnNames(engine, 'public', 'users'), [
        'id', 'email', 'full_name', 'status', 'created_at', 'display_name', 'plan', 'last_login_at', 'phone', 'referred_by',
      ]);
      assert.ok(!(await columnNames(engine, 'public', 'orders')).includes('legacy_ref'));
      assert.equal((await one<{ full_name: string }>(engine, `SELECT full_name FROM users WHERE id = 1`)).full_name, 'User 1');
    },
  },
  {
    file: '06_alter_users_products.yaml',
    seed: `UPDATE users SET phone = '+33 6 ' || lpad(id::text, 8, '0') WHERE id % 3 = 0;`,
    async during({ as, previousSchema, versionSchema }) {
      // The old version still writes NULL names; the new version reads `up` of them.
      const old = await as(previousSchema);
      await old.query(`INSERT INTO users (id, email, full_name, display_name) VALUES (63, 'cy@example.com', NULL, 'cy')`);
      const neu = await as(versionSchema);
      assert.equal((await one<{ full_name: string }>(neu, `SELECT full_name FROM users WHERE id = 63`)).full_name, 'Anonymous');
      assert.equal((await one<{ title: string }>(neu, `SELECT title FROM products WHERE id = 1`)).title, 'Product 1');
      // The unique phone applies to the new version already.
      await assert.rejects(neu.query(`UPDATE users SET phone = '+33 6 00000003' WHERE id = 4`), { code: '23505' });
      // Defaults: the old version keeps plan's default (it inserted user 63 without a plan); the new one has none.
      assert.equal((await one<{ plan: string }>(old, `SELECT plan FROM users WHERE id = 63`)).plan, 'free');
      await assert.rejects(neu.query(`INSERT INTO users (id, email, full_name, display_name) VALUES (64, 'di@example.com', 'Di', 'di')`), (e: { code?: string }) =>
        ['23502', '23514'].includes(e.code ?? ''),
      );
      const p = await one<{ id: number; stock: number }>(neu, `INSERT INTO products (sku, title, price) VALUES ('SKU-N1', 'New thing', 3) RETURNING id, stock`);
      assert.equal(p.stock, 0);
      assert.equal((await one<{ stock: number | null }>(old, `SELECT stock FROM products WHERE id = $1`, [p.id])).stock, 0);
    },
    async after({ engine }) {
      assert.equal((await column(engine, 'users', 'full_name'))?.notnull, true);
      assert.equal(await count(engine, `SELECT count(*) FROM users WHERE full_name = 'Anonymous'`), 14);
      assert.equal((await column(engine, 'users', 'plan'))?.default, null);
      assert.equal((await column(engine, 'users', 'status'))?.comment, 'active, suspended or closed');
      await assertConstraint(engine, 'users', 'users_phone_key', 'UNIQUE (phone)');
      // The phone check came along with the column.
      await assertConstraint(engine, 'users', 'users_phone_format', "CHECK ((phone ~ '^[+]?[0-9 ]+$'::text)) NO INHERIT");
      assert.equal((await column(engine, 'products', 'stock'))?.default, '0');
      // A column changed through a shadow moves to the end of the table.
      assert.deepEqual(await columnNames(engine, 'public', 'products'), ['id', 'sku', 'title', 'vendor', 'vendor_sku', 'price', 'sale_price', 'tags', 'search', 'stock']);
      await assertConstraint(engine, 'products', 'products_vendor_name_key', 'UNIQUE (vendor, title) INCLUDE (price)');
    },
  },
  {
    file: '07_alter_orders.json',
    async during({ as, previousSchema, versionSchema }) {
      const old = await as(previousSchema);
      await old.query(`INSERT INTO orders (user_id, product_id, quantity, amount, status, shipping_address) VALUES (3, 555, '7', '12.34', 'shipped', 'Dock 7')`);
      const neu = await as(versionSchema);
      assert.deepEqual(await one(neu, `SELECT product_id, quantity, total_cents FROM orders WHERE shipping_address = 'Dock 7'`), {
        product_id: null,
        quantity: 7,
        total_cents: 1234,
      });
      await neu.query(`INSERT INTO orders (user_id, product_id, quantity, total_cents, status, shipping_address) VALUES (4, 2, 5, 250, 'shipped', NULL)`);
      assert.deepEqual(await one(old, `SELECT product_id, quantity, amount, shipping_address FROM orders WHERE user_id = 4 AND quantity = '5'`), {
        product_id: 2,
        quantity: '5',
        amount: '2.50',
        shipping_address: 'unknown',
      });
      // The new version's foreign key and check hold for what it writes.
      await assert.rejects(neu.query(`UPDATE orders SET product_id = 999 WHERE id = 1`), { code: '23503' });
      await assert.rejects(neu.query(`UPDATE orders SET total_cents = -1 WHERE id = 1`), { code: '23514' });
    },
    async after({ engine }) {
      assert.equal((await column(engine, 'orders', 'quantity'))?.type, 'integer');
      assert.equal((await column(engine, 'orders', 'shipping_address'))?.notnull, false);
      assert.deepEqual(await column(engine, 'orders', 'total_cents'), {
        type: 'integer',
        notnull: true,
        default: '0',
        identity: '',
        generated: '',
        comment: 'Order total in cents',
      });
      await assertConstraint(engine, 'orders', 'orders_total_nonnegative', 'CHECK ((total_cents >= 0))');
      await assertConstraint(engine, 'orders', 'orders_product_fk', 'FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE SET NULL');
      // Orders 10, 20, … named product 999: `up` mapped it to NULL; amounts became cents.
      assert.equal(await count(engine, `SELECT count(*) FROM orders WHERE id % 10 = 0 AND id <= 90 AND product_id IS NOT NULL`), 0);
      assert.deepEqual(await rows(engine, `SELECT id::int, total_cents, quantity FROM orders WHERE id IN (9, 10, 11) ORDER BY id`), [
        { id: 9, total_cents: 0, quantity: 1 },
        { id: 10, total_cents: 3500, quantity: 2 },
        { id: 11, total_cents: 3850, quantity: 3 },
      ]);
      assert.ok(!(await columnNames(engine, 'public', 'orders')).includes('amount'));
      // The user_id and check constraints of the table are untouched.
      await assertConstraint(engine, 'orders', 'orders_user_fk', 'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE');
    },
  },
  {
    file: '08_create_indexes.yaml',
    async after({ engine }) {
      await assertIndex(engine, 'users_email_hash', 'CREATE INDEX users_email_hash ON public.users USING hash (email)');
      await assertIndex(engine, 'users_full_name_c', 'CREATE INDEX users_full_name_c ON public.users USING btree (full_name COLLATE "C")');
      await assertIndex(engine, 'products_title_prefix', 'CREATE INDEX products_title_prefix ON public.products USING btree (title text_pattern_ops)');
      await assertIndex(engine, 'products_tags_gin', 'CREATE INDEX products_tags_gin ON public.products USING gin (tags)');
      await assertIndex(engine, 'products_search_gist', 'CREATE INDEX products_search_gist ON public.products USING gist (search tsvector_ops (siglen=\'64\'))');
      await assertIndex(engine, 'orders_created_brin', "CREATE INDEX orders_created_brin ON public.orders USING brin (created_at) WITH (pages_per_range='16')");
      await assertIndex(engine, 'orders_recent', 'CREATE INDEX orders_recent ON public.orders USING btree (created_at DESC NULLS LAST, user_id)');
      await assertIndex(engine, 'orders_one_open_per_user', "CREATE UNIQUE INDEX orders_one_open_per_user ON public.orders USING btree (user_id) WHERE (status = 'open'::text)");
      await assertIndex(engine, 'shipments_tracking_number_key', "CREATE UNIQUE INDEX shipments_tracking_number_key ON public.shipments USING btree (tracking_number) WITH (fillfactor='80')");
      await assert.rejects(engine.query(`INSERT INTO orders (user_id, quantity, shipping_address) VALUES (1, 1, 'x')`), { code: '23505' });
    },
  },
  {
    file: '09_create_constraints.json',
    // A duplicate (vendor, vendor_sku) whose `up` resolves it: a NULL vendor_sku becomes the sku.
    seed: `
      INSERT INTO products (sku, title, vendor, vendor_sku, price) VALUES ('SKU-X1', 'Gadget', 'acme', NULL, 5), ('SKU-X2', 'Gizmo', 'acme', NULL, 6);
      UPDATE orders SET quantity = 0 WHERE id IN (4, 8);
    `,
    async during({ as, previousSchema, versionSchema }) {
      // The old version is unconstrained; `up` maps what it writes into values the new one accepts.
      const old = await as(previousSchema);
      await old.query(`UPDATE orders SET quantity = -3 WHERE id = 12`);
      const neu = await as(versionSchema);
      assert.equal((await one<{ quantity: number }>(neu, `SELECT quantity FROM orders WHERE id = 12`)).quantity, 1);
      assert.equal((await one<{ quantity: number }>(old, `SELECT quantity FROM orders WHERE id = 12`)).quantity, -3);
      await assert.rejects(neu.query(`UPDATE orders SET quantity = 0 WHERE id = 13`), { code: '23514' });
      // No primary key on page_views yet: the new version sees every row once.
      assert.equal(await count(neu, `SELECT count(DISTINCT view_id) FROM page_views`), 50);
    },
    async after({ engine }) {
      await assertConstraint(engine, 'products', 'products_vendor_sku_key', 'UNIQUE (vendor, vendor_sku) INCLUDE (price)');
      await assertConstraint(engine, 'orders', 'orders_quantity_positive', 'CHECK ((quantity > 0)) NO INHERIT');
      await assertIndex(engine, 'products_vendor_sku_key', "CREATE UNIQUE INDEX products_vendor_sku_key ON public.products USING btree (vendor, vendor_sku) INCLUDE (price) WITH (fillfactor='70')");
      await assertConstraint(engine, 'shipments', 'shipments_order_item_fk', 'FOREIGN KEY (order_id, line_no) REFERENCES order_items(order_id, line_no) MATCH FULL ON DELETE CASCADE');
      await assertConstraint(engine, 'page_views', 'page_views_pkey', 'PRIMARY KEY (view_id)');
      assert.equal(await count(engine, `SELECT count(*) FROM products WHERE vendor_sku IS NULL`), 0);
      assert.equal((await one<{ vendor_sku: string }>(engine, `SELECT vendor_sku FROM products WHERE sku = 'SKU-X1'`)).vendor_sku, 'SKU-X1');
      assert.equal(await count(engine, `SELECT count(*) FROM orders WHERE quantity < 1`), 0);
      // Constraints and indexes already on those columns came along.
      await assertConstraint(engine, 'orders', 'orders_total_nonnegative', 'CHECK ((total_cents >= 0))');
      await assertIndex(engine, 'products_vendor_name_key', 'CREATE UNIQUE INDEX products_vendor_name_key ON public.products USING btree (vendor, title) INCLUDE (price) WITH (fillfactor=\'90\')');
      assert.equal((await column(engine, 'page_views', 'view_id'))?.default, 'gen_random_uuid()');
    },
  },
  {
    file: '10_drop_and_rename_constraints.yaml',
    async during({ as, previousSchema, versionSchema }) {
      const neu = await as(versionSchema);
      const old = await as(previousSchema);
      // The new version may write what the old constraints forbid; the old version sees `down` of it.
      await neu.query(`UPDATE products SET price = -5 WHERE id = 1`);
      await neu.query(`UPDATE orders SET shipped_at = created_at - interval '1 day' WHERE id = 70`);
      assert.equal((await one<{ price: string }>(old, `SELECT price::text FROM products WHERE id = 1`)).price, '0.00');
      assert.equal((await one<{ ok: boolean }>(old, `SELECT shipped_at = created_at AS ok FROM orders WHERE id = 70`)).ok, true);
      assert.equal((await one<{ ok: boolean }>(neu, `SELECT shipped_at < created_at AS ok FROM orders WHERE id = 70`)).ok, true);
    },
    async after({ engine }) {
      assert.equal(await constraint(engine, 'products', 'products_price_nonnegative'), undefined);
      assert.equal(await constraint(engine, 'orders', 'orders_shipped_after_created'), undefined);
      assert.equal(await constraint(engine, 'users', 'users_email_key'), undefined);
      await assertConstraint(engine, 'users', 'users_email_unique', 'UNIQUE (email)');
      assert.equal((await one<{ price: string }>(engine, `SELECT price::text FROM products WHERE id = 1`)).price, '-5.00');
      // What the shadows replaced kept its other constraints and indexes.
      await assertConstraint(engine, 'products', 'products_sale_below_price', 'CHECK (((sale_price IS NULL) OR (sale_price <= price)))');
      await assertIndex(engine, 'orders_recent', 'CREATE INDEX orders_recent ON public.orders USING btree (created_at DESC NULLS LAST, user_id)');
      await assertIndex(engine, 'orders_created_brin', "CREATE INDEX orders_created_brin ON public.orders USING brin (created_at) WITH (pages_per_range='16')");
      assert.equal((await column(engine, 'orders', 'created_at'))?.default, 'now()');
    },
  },
  {
    file: '11_rename_table_replica_identity.json',
    async during({ as, previousSchema, versionSchema, engine }) {
      const neu = await as(versionSchema);
      assert.equal(await count(neu, `SELECT count(*) FROM visits`), 50);
      const old = await as(previousSchema);
      assert.equal(await count(old, `SELECT count(*) FROM page_views`), 50);
      assert.equal((await one<{ r: string }>(engine, `SELECT relreplident::text AS r FROM pg_class WHERE oid = 'public.users'::regclass`)).r, 'f');
    },
    async after({ engine }) {
      assert.equal((await one<{ t: string | null }>(engine, `SELECT to_regclass('public.page_views')::text AS t`)).t, null);
      await assertConstraint(engine, 'visits', 'page_views_pkey', 'PRIMARY KEY (view_id)');
      assert.deepEqual(await rows(engine, `SELECT relname::text, relreplident::text AS r FROM pg_class WHERE oid IN ('public.users'::regclass, 'public.shipments'::regclass) ORDER BY 1`), [
        { relname: 'shipments', r: 'i' },
        { relname: 'users', r: 'f' },
      ]);
      assert.equal(
        (await one<{ i: string }>(engine, `SELECT c.relname::text AS i FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = 'public.shipments'::regclass AND x.indisreplident`)).i,
        'shipments_tracking_number_key',
      );
    },
  },
  {
    file: '12_drop_table_and_index.yaml',
    async during({ as, previousSchema, versionSchema }) {
      const neu = await as(versionSchema);
      await assert.rejects(neu.query(`SELECT 1 FROM legacy_carts`), { code: '42P01' });
      const old = await as(previousSchema);
      assert.equal(await count(old, `SELECT count(*) FROM legacy_carts`), 5);
      await neu.query(`INSERT INTO visits (user_id, path, referrer) VALUES (1, '/from-search', 'https://search.example')`);
    },
    async after({ engine }) {
      assert.equal((await one<{ t: string | null }>(engine, `SELECT to_regclass('public.legacy_carts')::text AS t`)).t, null);
      assert.equal(await indexDef(engine, 'users_email_hash'), undefined);
      assert.equal((await column(engine, 'visits', 'referrer'))?.comment, 'HTTP referrer, if any');
      assert.equal(await count(engine, `SELECT count(*) FROM visits WHERE referrer IS NOT NULL`), 1);
    },
  },
  {
    file: '13_raw_sql.yaml',
    async during({ as, versionSchema }) {
      const neu = await as(versionSchema);
      // onComplete has not run yet.
      assert.equal(await count(neu, `SELECT count(*) FROM coupons`), 0);
    },
    async after({ engine }) {
      assert.deepEqual(await rows(engine, `SELECT code, percent_off FROM coupons`), [{ code: 'WELCOME10', percent_off: 10 }]);
      await assert.rejects(engine.query(`INSERT INTO coupons VALUES ('BAD', 0)`), { code: '23514' });
    },
  },
];

function versionSchemaOf(m: Migration): string {
  return `public_${m.versionSchema ?? m.name}`;
}

async function snapshotAll(c: pg.Client, previousSchema: string) {
  return { public: await catalogSnapshot(c, 'public'), previous: previousSchema === 'public' ? null : await catalogSnapshot(c, previousSchema) };
}

const exampleFiles = readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

describe('examples/', () => {
  test('every example file has a check here, and the README lists each one', () => {
    assert.deepEqual(examples.map((e) => e.file), exampleFiles);
    const readme = readFileSync(path.join(EXAMPLES, 'README.md'), 'utf8');
    for (const f of exampleFiles) assert.ok(readme.includes(f), `examples/README.md does not list ${f}`);
  });

  test('together they use every operation, both file formats, and version_schema', async () => {
    const loaded = await Promise.all(exampleFiles.map((f) => loadMigrationFile(path.join(EXAMPLES, f))));
    const kinds = new Set(loaded.flatMap((m) => m.operations.map((o) => o.kind)));
    assert.deepEqual([...allOperationKinds].filter((k) => !kinds.has(k)), []);
    assert.ok(exampleFiles.some((f) => f.endsWith('.json')) && exampleFiles.some((f) => f.endsWith('.yaml')));
    assert.ok(loaded.some((m) => m.versionSchema !== undefined));
    // Each YAML example says what it shows.
    for (const f of exampleFiles.filter((x) => x.endsWith('.yaml'))) assert.match(readFileSync(path.join(EXAMPLES, f), 'utf8'), /^# \d\d — /, f);
  });

  describe('in order on one database: start → rollback → start → complete', () => {
    let db: TestDatabase;
    let engine: pg.Client;
    let previousSchema = 'public';
    let failed: string | undefined;

    before(async () => {
      db = await createTestDatabase();
      engine = await db.connect('tandem-engine');
    });
    after(async () => {
      await db?.drop();
    });

    for (const example of examples) {
      test(example.file, async (t) => {
        if (failed) {
          t.skip(`after ${failed} failed`);
          return;
        }
        try {
          const m = await loadMigrationFile(path.join(EXAMPLES, example.file));
          const versionSchema = versionSchemaOf(m);
          const clients: pg.Client[] = [];
          const ctx: Ctx = {
            db,
            engine,
            versionSchema,
            previousSchema,
            async as(schema) {
              const c = await db.connect('app');
              await c.query(`SET search_path TO ${ident(schema)}`);
              clients.push(c);
              return c;
            },
          };
          if (example.seed) await engine.query(example.seed);

          const before = await snapshotAll(engine, previousSchema);
          const first = await start(engine, m, options);
          assert.equal(first.versionSchema, versionSchema);
          await rollback(engine, options);
          assert.deepEqual(await snapshotAll(engine, previousSchema), before, 'rollback must leave the catalog exactly as before start');

          await start(engine, m, options);
          await example.during?.(ctx);
          await Promise.all(clients.splice(0).map((c) => c.end()));
          await complete(engine, options);

          const schemas = await rows<{ nspname: string }>(engine, `SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'public\\_%' ORDER BY 1`);
          assert.deepEqual(schemas.map((s) => s.nspname), [versionSchema]);
          await assertNoLeftovers(engine);
          await example.after(ctx);
          await Promise.all(clients.splice(0).map((c) => c.end()));
          previousSchema = versionSchema;
        } catch (err) {
          failed = example.file;
          throw err;
        }
      });
    }
  });
});
