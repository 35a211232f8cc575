/**
 * Files written for pgroll work as they are: an `up`/`down` on a change that needs none is
 * accepted (and unused), and operations on a table created earlier in the same migration apply
 * directly to it (no shadow column, no trigger, no backfill: no old version sees that table).
 * Each case: start → writes through both versions → complete, and start → rollback → catalog
 * identical to before.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { type Env, migration, newVersion, run, runComplete, runRollback, snapshot, withDatabase } from './support.js';

const SETUP = `
  CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);
  INSERT INTO users SELECT g, 'User' || g FROM generate_series(1, 20) g;
`;

const newTable = (name: string) => ({
  create_table: {
    name,
    columns: [
      { name: 'id', type: 'integer' },
      { name: 'title', type: 'text', nullable: true },
      { name: 'legacy', type: 'text', nullable: true },
    ],
  },
});

interface Case {
  title: string;
  operations: unknown[];
  /** As the new version (search_path = its version schema), after start. */
  afterStart(nv: pg.Client, env: Env): Promise<void>;
  /** On the base tables, after complete. */
  afterComplete(env: Env): Promise<void>;
}

async function one<T>(client: pg.Client, sql: string, params: unknown[] = []): Promise<T> {
  return (await client.query(sql, params)).rows[0] as T;
}

async function triggersOn(client: pg.Client, table: string): Promise<number> {
  return (await one<{ n: number }>(client, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [table])).n;
}

async function columnNames(client: pg.Client, table: string): Promise<string[]> {
  const r = await client.query<{ attname: string }>(`SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [
    table,
  ]);
  return r.rows.map((x) => x.attname);
}

const cases: Case[] = [
  {
    title: 'a comment change given up/down (pgroll asks for them on every alter_column)',
    operations: [{ alter_column: { table: 'users', column: 'name', comment: 'display name', up: 'name', down: 'name' } }],
    async afterStart(nv, env) {
      await env.old.query(`INSERT INTO users VALUES (1001, 'old writer')`);
      await nv.query(`INSERT INTO users VALUES (1002, 'new writer')`);
      assert.equal((await one<{ n: number }>(nv, `SELECT count(*)::int AS n FROM users WHERE id > 1000`)).n, 2);
      assert.equal(await triggersOn(env.old, 'public.users'), 0, 'no sync trigger for a comment');
    },
    async afterComplete(env) {
      assert.equal((await one<{ c: string }>(env.old, `SELECT col_description('public.users'::regclass, 2) AS c`)).c, 'display name');
    },
  },
  {
    title: 'a rename through alter_column given up/down',
    operations: [{ alter_column: { table: 'users', column: 'name', name: 'display_name', up: 'name', down: 'display_name' } }],
    async afterStart(nv, env) {
      await env.old.query(`INSERT INTO users (id, name) VALUES (1001, 'old writer')`);
      await nv.query(`INSERT INTO users (id, display_name) VALUES (1002, 'new writer')`);
      assert.equal((await one<{ n: string }>(nv, `SELECT display_name AS n FROM users WHERE id = 1001`)).n, 'old writer');
      assert.equal((await one<{ n: string }>(env.old, `SELECT name AS n FROM users WHERE id = 1002`)).n, 'new writer');
    },
    async afterComplete(env) {
      assert.deepEqual(await columnNames(env.old, 'public.users'), ['id', 'display_name']);
    },
  },
  {
    title: 'create_constraint of a primary key right after its create_table',
    operations: [
      newTable('tickets'),
      { create_constraint: { table: 'tickets', name: 'tickets_pkey', type: 'primary_key', columns: ['id'], up: { id: 'id' }, down: { id: 'id' } } },
    ],
    async afterStart(nv, env) {
      await nv.query(`INSERT INTO tickets (id, title) VALUES (1, 'a')`);
      await assert.rejects(nv.query(`INSERT INTO tickets (id, title) VALUES (1, 'again')`), { code: '23505' });
      await env.old.query(`UPDATE users SET name = 'still writable' WHERE id = 1`);
      const pk = await one<{ def: string }>(env.old, `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'tickets_pkey'`);
      assert.equal(pk.def, 'PRIMARY KEY (id)');
      assert.equal(await triggersOn(env.old, 'public.tickets'), 0);
    },
    async afterComplete(env) {
      assert.deepEqual(await columnNames(env.old, 'public.tickets'), ['id', 'title', 'legacy']);
    },
  },
  {
    title: 'add_column to a new table: NOT NULL without default, unique, given an up',
    operations: [newTable('tickets'), { add_column: { table: 'tickets', up: "'x'", column: { name: 'code', type: 'text', unique: true } } }],
    async afterStart(nv, env) {
      await nv.query(`INSERT INTO tickets (id, code) VALUES (1, 'A')`);
      await assert.rejects(nv.query(`INSERT INTO tickets (id, code) VALUES (2, NULL)`), { code: '23502' });
      await assert.rejects(nv.query(`INSERT INTO tickets (id, code) VALUES (3, 'A')`), { code: '23505' });
      await env.old.query(`INSERT INTO users VALUES (1001, 'old writer')`);
    },
    async afterComplete(env) {
      assert.deepEqual(await columnNames(env.old, 'public.tickets'), ['id', 'title', 'legacy', 'code']);
    },
  },
  {
    title: 'alter_column on a new table: type, NOT NULL, default, comment, check, unique, then a rename',
    operations: [
      newTable('tickets'),
      {
        alter_column: {
          table: 'tickets',
          column: 'title',
          type: 'varchar(40)',
          nullable: false,
          default: "'untitled'",
          comment: 'the title',
          check: { name: 'title_not_blank', constraint: "title <> ''" },
          unique: { name: 'tickets_title_key' },
          up: 'title',
          down: 'title',
        },
      },
      { alter_column: { table: 'tickets', column: 'title', name: 'headline', up: 'title', down: 'headline' } },
    ],
    async afterStart(nv, env) {
      await nv.query(`INSERT INTO tickets (id) VALUES (1)`);
      assert.equal((await one<{ h: string }>(nv, `SELECT headline AS h FROM tickets WHERE id = 1`)).h, 'untitled');
      await assert.rejects(nv.query(`INSERT INTO tickets (id, headline) VALUES (2, '')`), { code: '23514' });
      await assert.rejects(nv.query(`INSERT INTO tickets (id, headline) VALUES (3, 'untitled')`), { code: '23505' });
      await assert.rejects(nv.query(`INSERT INTO tickets (id, headline) VALUES (4, repeat('x', 41))`), { code: '22001' });
      await env.old.query(`INSERT INTO users VALUES (1001, 'old writer')`);
      assert.equal(await triggersOn(env.old, 'public.tickets'), 0);
    },
    async afterComplete(env) {
      assert.deepEqual(await columnNames(env.old, 'public.tickets'), ['id', 'headline', 'legacy']);
      assert.equal((await one<{ c: string }>(env.old, `SELECT col_description('public.tickets'::regclass, 2) AS c`)).c, 'the title');
    },
  },
  {
    title: 'create_index on a new table: built in the expand transaction',
    operations: [newTable('tickets'), { create_index: { table: 'tickets', name: 'tickets_title_idx', columns: [{ column: 'title' }] } }],
    async afterStart(nv, env) {
      await nv.query(`INSERT INTO tickets (id, title) VALUES (1, 'a')`);
      assert.equal((await one<{ v: boolean }>(env.old, `SELECT indisvalid AS v FROM pg_index WHERE indexrelid = 'public.tickets_title_idx'::regclass`)).v, true);
      await env.old.query(`INSERT INTO users VALUES (1001, 'old writer')`);
    },
    async afterComplete(env) {
      assert.ok((await one<{ r: string | null }>(env.old, `SELECT to_regclass('public.tickets_title_idx')::text AS r`)).r);
    },
  },
  {
    title: 'rename_column and drop_column on a new table',
    operations: [newTable('tickets'), { rename_column: { table: 'tickets', from: 'title', to: 'subject' } }, { drop_column: { table: 'tickets', column: 'legacy', down: "''" } }],
    async afterStart(nv, env) {
      await nv.query(`INSERT INTO tickets (id, subject) VALUES (1, 'a')`);
      assert.deepEqual(await columnNames(env.old, 'public.tickets'), ['id', 'subject']);
      await env.old.query(`INSERT INTO users VALUES (1001, 'old writer')`);
    },
    async afterComplete(env) {
      assert.deepEqual(await columnNames(env.old, 'public.tickets'), ['id', 'subject']);
    },
  },
  {
    title: 'create_constraint of a foreign key from a new table to one created after it',
    operations: [
      {
        create_table: {
          name: 'tickets',
          columns: [
            { name: 'id', type: 'integer', pk: true },
            { name: 'queue_id', type: 'integer' },
          ],
        },
      },
      { create_table: { name: 'queues', columns: [{ name: 'id', type: 'integer', pk: true }] } },
      {
        create_constraint: {
          table: 'tickets',
          name: 'tickets_queue_fk',
          type: 'foreign_key',
          columns: ['queue_id'],
          references: { table: 'queues', columns: ['id'] },
          up: { queue_id: 'queue_id' },
          down: { queue_id: 'queue_id' },
        },
      },
    ],
    async afterStart(nv, env) {
      await nv.query(`INSERT INTO queues VALUES (1)`);
      await nv.query(`INSERT INTO tickets VALUES (1, 1)`);
      await assert.rejects(nv.query(`INSERT INTO tickets VALUES (2, 99)`), { code: '23503' });
      await env.old.query(`INSERT INTO users VALUES (1001, 'old writer')`);
    },
    async afterComplete(env) {
      const fk = await one<{ def: string }>(env.old, `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'tickets_queue_fk'`);
      assert.equal(fk.def, 'FOREIGN KEY (queue_id) REFERENCES queues(id)');
    },
  },
  {
    title: 'rename_constraint and drop_constraint on a new table',
    operations: [
      {
        create_table: {
          name: 'tickets',
          columns: [
            { name: 'id', type: 'integer', pk: true },
            { name: 'code', type: 'text' },
            { name: 'n', type: 'integer' },
          ],
          constraints: [
            { name: 'tickets_code_key', type: 'unique', columns: ['code'] },
            { name: 'tickets_n_positive', type: 'check', check: 'n > 0' },
          ],
        },
      },
      { rename_constraint: { table: 'tickets', from: 'tickets_code_key', to: 'tickets_code_unique' } },
      { drop_constraint: { table: 'tickets', name: 'tickets_n_positive', up: 'n', down: 'n' } },
    ],
    async afterStart(nv, env) {
      await nv.query(`INSERT INTO tickets VALUES (1, 'a', -1)`);
      await assert.rejects(nv.query(`INSERT INTO tickets VALUES (2, 'a', 1)`), { constraint: 'tickets_code_unique' });
      await env.old.query(`INSERT INTO users VALUES (1001, 'old writer')`);
    },
    async afterComplete(env) {
      const names = await env.old.query<{ conname: string }>(`SELECT conname::text FROM pg_constraint WHERE conrelid = 'public.tickets'::regclass AND contype <> 'n' ORDER BY 1`);
      assert.deepEqual(
        names.rows.map((r) => r.conname),
        ['tickets_code_unique', 'tickets_pkey'],
      );
    },
  },
  {
    title: "pgroll's other spellings: create_index columns as a map and as names, empty strings for absent fields",
    operations: [
      { create_index: { table: 'users', name: 'users_name_id_idx', columns: { name: { sort: 'DESC' }, id: {} }, predicate: '', storage_parameters: '' } },
      { create_index: { table: 'users', name: 'users_id_name_idx', columns: ['id', 'name'] } },
      { alter_column: { table: 'users', column: 'name', nullable: true, up: '', down: "coalesce(name, 'unknown')" } },
    ],
    async afterStart(nv, env) {
      await nv.query(`INSERT INTO users (id, name) VALUES (1002, NULL)`);
      assert.equal((await one<{ n: string }>(env.old, `SELECT name AS n FROM users WHERE id = 1002`)).n, 'unknown');
      await env.old.query(`INSERT INTO users VALUES (1001, 'old writer')`);
      const defs = await env.old.query<{ d: string }>(
        `SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = 'public.users'::regclass AND NOT indisprimary ORDER BY 1`,
      );
      assert.deepEqual(
        defs.rows.map((r) => r.d.replace(/^.* USING btree /, '')),
        ['(id, name)', '(name DESC, id)'],
      );
    },
    async afterComplete(env) {
      assert.equal((await one<{ n: boolean }>(env.old, `SELECT attnotnull AS n FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'name'`)).n, false);
    },
  },
];

describe('pgroll files as they are', () => {
  cases.forEach((c, i) => {
    const name = `pgroll_compat_${i}`;
    const doc = () => migration({ name, operations: c.operations });

    test(`${c.title}: start → both versions write → complete`, async () => {
      await withDatabase(SETUP, async (env) => {
        await run(env, doc());
        const nv = await newVersion(env.db, `public_${name}`);
        await c.afterStart(nv, env);
        await runComplete(env);
        await c.afterComplete(env);
      });
    });

    test(`${c.title}: start → rollback leaves the catalog as before`, async () => {
      await withDatabase(SETUP, async (env) => {
        const before = await snapshot(env);
        await run(env, doc());
        await runRollback(env);
        assert.deepEqual(await snapshot(env), before);
      });
    });
  });
});
