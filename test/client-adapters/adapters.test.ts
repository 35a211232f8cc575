/**
 * The driver adapters of tandem/client with the real libraries on a real database (postgres.js,
 * Kysely over node-postgres, Drizzle's node-postgres driver) and the OpenFeature provider with the
 * real server SDK. One database, `users.name` being renamed to `display_name`, the rollout at
 * 50%: a key routed to the new version reads and writes through the new version's view (the new
 * name), a key on the old version through the table (the old name); each sees the other's
 * writes; outcomes land in each version's health with the SQLSTATE of a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { bigint, pgTable, text } from 'drizzle-orm/pg-core';
import { Kysely, PostgresDialect } from 'kysely';
import postgres from 'postgres';
import { drizzleRouter } from '../../src/client/adapters/drizzle.js';
import { kyselyRouter } from '../../src/client/adapters/kysely.js';
import { SCHEMA_VERSION_FLAG, TandemProvider } from '../../src/client/adapters/openfeature.js';
import { postgresRouter } from '../../src/client/adapters/postgres.js';
import { versionRouter } from '../../src/client/router.js';
import { rollback } from '../../src/engine/lifecycle.js';
import { setRollout } from '../../src/state/rollout-store.js';
import { type AdapterEnv, NEW_VERSION, OLD_VERSION, renameInProgress } from './support.js';

const sqlstate = (code: string) => (e: unknown) => {
  const own = (e as { code?: string }).code;
  const cause = (e as { cause?: { code?: string } }).cause?.code;
  return own === code || cause === code;
};

/** Options every adapter gets in these tests: no timer (flushHealth by hand), no polling (NOTIFY only), background errors kept. */
function testOptions(instanceId: string, errors: unknown[]) {
  return { schema: 'public', pollIntervalMs: 60_000, health: { flushIntervalMs: 0, instanceId }, onError: (e: unknown) => errors.push(e) };
}

describe('tandem/client adapters on a migration in progress', () => {
  let env: AdapterEnv;
  before(async () => {
    env = await renameInProgress();
  });
  after(async () => {
    await env?.drop();
  });

  test('postgres.js: sql.begin on the key’s version; health per version', async () => {
    const { db, key, health } = env;
    const sql = postgres(db.url, { max: 2, onnotice: () => undefined });
    const errors: unknown[] = [];
    const routed = await postgresRouter({ sql, ...testOptions('postgres-js', errors) });
    try {
      assert.equal(routed.versionFor(key.new), NEW_VERSION);
      assert.equal(routed.versionFor(key.old), OLD_VERSION);
      const onNew = await routed.transaction(key.new, async (tx, version) => {
        const [row] = await tx`SELECT display_name, current_setting('tandem.version') AS tv FROM users WHERE id = 1`;
        await tx`INSERT INTO users (id, display_name) VALUES (101, 'written by new')`;
        return { version, ...row };
      });
      assert.deepEqual(onNew, { version: NEW_VERSION, display_name: 'user 1', tv: NEW_VERSION });
      const onOld = await routed.transaction(key.old, async (tx, version) => {
        const rows = await tx`SELECT name FROM users WHERE id = 101`;
        await tx`UPDATE users SET name = 'renamed by old' WHERE id = 2`;
        return { version, rows: [...rows] };
      });
      assert.deepEqual(onOld, { version: OLD_VERSION, rows: [{ name: 'written by new' }] });
      assert.deepEqual(await routed.transaction(key.new, async (tx) => [...(await tx`SELECT display_name FROM users WHERE id = 2`)]), [{ display_name: 'renamed by old' }]);
      // The old version has no display_name: the query fails there, and only there.
      await assert.rejects(
        routed.transaction(key.old, (tx) => tx`SELECT display_name FROM users`),
        sqlstate('42703'),
      );
      // A violated CHECK fails the whole transaction: its insert is gone too.
      await assert.rejects(
        routed.transaction(key.new, async (tx) => {
          await tx`INSERT INTO users (id, display_name) VALUES (102, 'not kept')`;
          await tx`UPDATE users SET display_name = '' WHERE id = 3`;
        }),
        sqlstate('23514'),
      );
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM users WHERE id = 102`)).rows[0].n, 0);
      assert.equal(await routed.transactionOn('previous', async (_tx, version) => version), OLD_VERSION);
      await routed.core.flushHealth();
      assert.deepEqual(errors, []);
      assert.deepEqual(await health('postgres-js', NEW_VERSION), { statements: 3, errors: 1, bySqlstate: { '23514': 1 } });
      assert.deepEqual(await health('postgres-js', OLD_VERSION), { statements: 3, errors: 1, bySqlstate: { '42703': 1 } });
    } finally {
      await routed.close();
      await sql.end();
    }
  });

  test('Kysely (PostgresDialect over pg.Pool): db.transaction() on the key’s version', async () => {
    const { pool, key, health } = env;
    interface OldDb {
      users: { id: string; name: string };
    }
    interface NewDb {
      users: { id: string; display_name: string };
    }
    const db = new Kysely<OldDb & { v2_users: never }>({ dialect: new PostgresDialect({ pool }) });
    const errors: unknown[] = [];
    const routed = await kyselyRouter({ db, ...testOptions('kysely', errors) });
    try {
      const onNew = await routed.transaction(key.new, async (trx, version) => {
        // The app carries both shapes; `version` says which one this transaction has.
        const v2 = trx as unknown as Kysely<NewDb>;
        await v2.insertInto('users').values({ id: '201', display_name: 'kysely new' }).execute();
        return { version, row: await v2.selectFrom('users').select(['display_name']).where('id', '=', '1').executeTakeFirst() };
      });
      assert.deepEqual(onNew, { version: NEW_VERSION, row: { display_name: 'user 1' } });
      const onOld = await routed.transaction(key.old, async (trx, version) => ({
        version,
        row: await trx.selectFrom('users').select(['name']).where('id', '=', '201').executeTakeFirst(),
      }));
      assert.deepEqual(onOld, { version: OLD_VERSION, row: { name: 'kysely new' } });
      await assert.rejects(
        routed.transaction(key.new, (trx) => (trx as unknown as Kysely<NewDb>).updateTable('users').set({ display_name: '' }).where('id', '=', '4').execute()),
        sqlstate('23514'),
      );
      await routed.core.flushHealth();
      assert.deepEqual(errors, []);
      assert.deepEqual(await health('kysely', NEW_VERSION), { statements: 2, errors: 1, bySqlstate: { '23514': 1 } });
      assert.deepEqual(await health('kysely', OLD_VERSION), { statements: 1, errors: 0, bySqlstate: {} });
    } finally {
      await routed.close();
    }
  });

  test('Drizzle (node-postgres driver): db.transaction() on the key’s version; the SQLSTATE under DrizzleQueryError', async () => {
    const { pool, key, health } = env;
    const usersOld = pgTable('users', { id: bigint('id', { mode: 'number' }).primaryKey(), name: text('name').notNull() });
    const usersNew = pgTable('users', { id: bigint('id', { mode: 'number' }).primaryKey(), displayName: text('display_name').notNull() });
    const db = drizzle(pool);
    const errors: unknown[] = [];
    const routed = await drizzleRouter({ db, ...testOptions('drizzle', errors) });
    try {
      const onNew = await routed.transaction(key.new, async (tx, version) => {
        await tx.insert(usersNew).values({ id: 301, displayName: 'drizzle new' });
        return { version, rows: await tx.select({ displayName: usersNew.displayName }).from(usersNew).where(eq(usersNew.id, 1)) };
      });
      assert.deepEqual(onNew, { version: NEW_VERSION, rows: [{ displayName: 'user 1' }] });
      const onOld = await routed.transaction(key.old, async (tx, version) => ({
        version,
        rows: await tx.select({ name: usersOld.name }).from(usersOld).where(eq(usersOld.id, 301)),
      }));
      assert.deepEqual(onOld, { version: OLD_VERSION, rows: [{ name: 'drizzle new' }] });
      await assert.rejects(
        routed.transaction(key.new, (tx) => tx.update(usersNew).set({ displayName: '' }).where(eq(usersNew.id, 5))),
        sqlstate('23514'),
      );
      await routed.core.flushHealth();
      assert.deepEqual(errors, []);
      assert.deepEqual(await health('drizzle', NEW_VERSION), { statements: 2, errors: 1, bySqlstate: { '23514': 1 } });
      assert.deepEqual(await health('drizzle', OLD_VERSION), { statements: 1, errors: 0, bySqlstate: {} });
    } finally {
      await routed.close();
    }
  });

  test('an adapter can share a router’s core: same routing, one health recorder, closing the adapter leaves the router running', async () => {
    const { db, pool, key, health } = env;
    const errors: unknown[] = [];
    const router = await versionRouter({ pool, ...testOptions('shared', errors) });
    const sql = postgres(db.url, { max: 1, onnotice: () => undefined });
    try {
      const routed = await postgresRouter({ sql, router });
      assert.equal(routed.core, router.core);
      assert.equal(await routed.transaction(key.new, async (_tx, v) => v), NEW_VERSION);
      await routed.close();
      assert.equal(await router.transaction(key.new, async (_c, v) => v), NEW_VERSION);
      await router.flushHealth();
      assert.deepEqual(await health('shared', NEW_VERSION), { statements: 2, errors: 0, bySqlstate: {} });
    } finally {
      await router.close();
      await sql.end();
    }
  });

  test('OpenFeature: tandem-schema-version follows the router per targeting key, errors as codes, ConfigurationChanged on every change', async () => {
    const { pool, engine, key } = env;
    const errors: unknown[] = [];
    const router = await versionRouter({ pool, ...testOptions('openfeature', errors) });
    try {
      await OpenFeature.setProviderAndWait(new TandemProvider({ router }));
      const client = OpenFeature.getClient();
      const asNew = await client.getStringDetails(SCHEMA_VERSION_FLAG, 'fallback', { targetingKey: key.new });
      assert.deepEqual([asNew.value, asNew.variant, asNew.reason, asNew.errorCode], [NEW_VERSION, 'new', 'TARGETING_MATCH', undefined]);
      const asOld = await client.getStringDetails(SCHEMA_VERSION_FLAG, 'fallback', { targetingKey: key.old });
      assert.deepEqual([asOld.value, asOld.variant, asOld.reason], [OLD_VERSION, 'old', 'TARGETING_MATCH']);
      assert.equal(asOld.flagMetadata['percent'], 50);
      // The router and the flag agree on every key.
      for (let i = 0; i < 50; i++) assert.equal(await client.getStringValue(SCHEMA_VERSION_FLAG, 'x', { targetingKey: `k${i}` }), router.versionFor(`k${i}`));

      const noKey = await client.getStringDetails(SCHEMA_VERSION_FLAG, 'fallback', {});
      assert.deepEqual([noKey.value, noKey.reason, noKey.errorCode], ['fallback', 'ERROR', 'TARGETING_KEY_MISSING']);
      const other = await client.getStringDetails('another-flag', 'fallback', { targetingKey: key.new });
      assert.deepEqual([other.value, other.errorCode], ['fallback', 'FLAG_NOT_FOUND']);
      const asBool = await client.getBooleanDetails(SCHEMA_VERSION_FLAG, false, { targetingKey: key.new });
      assert.deepEqual([asBool.value, asBool.errorCode], [false, 'TYPE_MISMATCH']);

      const changes: unknown[] = [];
      const changed = new Promise<void>((resolve) =>
        client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
          changes.push(details?.flagsChanged);
          resolve();
        }),
      );
      await setRollout(engine, 'public', 100);
      await changed;
      assert.deepEqual(changes[0], [SCHEMA_VERSION_FLAG]);
      assert.equal(await client.getStringValue(SCHEMA_VERSION_FLAG, 'x', { targetingKey: key.old }), NEW_VERSION);

      // No migration in progress: every key (and no key) gets the latest version, statically.
      const before = changes.length;
      await rollback(engine, { lockTimeoutMs: 1_000 });
      for (let t0 = Date.now(); changes.length === before && Date.now() - t0 < 5_000;) await new Promise((r) => setTimeout(r, 10));
      const none = await client.getStringDetails(SCHEMA_VERSION_FLAG, 'fallback', {});
      assert.deepEqual([none.value, none.variant, none.reason, none.errorCode], [OLD_VERSION, 'new', 'STATIC', undefined]);
      assert.deepEqual(errors, []);
    } finally {
      await OpenFeature.close();
      await router.close();
    }
  });
});
