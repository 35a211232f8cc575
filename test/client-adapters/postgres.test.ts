/**
 * tandem/client/postgres with the real postgres.js on a real database: a key routed to the new
 * version reads and writes the renamed column through the new version's view, a key on the old
 * version through the table, the two see each other's writes, and outcomes (a violated CHECK's
 * SQLSTATE too) land in each version's health.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import postgres from 'postgres';
import { postgresRouter } from '../../src/client/adapters/postgres.js';
import { NEW_VERSION, OLD_VERSION, withRenameInProgress } from './support.js';

test('postgres.js: sql.begin on the key’s version, health per version', async () => {
  await withRenameInProgress(async ({ db, key, health }) => {
    const sql = postgres(db.url, { max: 2, onnotice: () => undefined });
    const backgroundErrors: unknown[] = [];
    const routed = await postgresRouter({ sql, schema: 'public', pollIntervalMs: 60_000, health: { flushIntervalMs: 0 }, onError: (e) => backgroundErrors.push(e) });
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
      const seenByNew = await routed.transaction(key.new, async (tx) => [...(await tx`SELECT display_name FROM users WHERE id = 2`)]);
      assert.deepEqual(seenByNew, [{ display_name: 'renamed by old' }]);
      // The old version has no display_name: its query fails there, and only there.
      await assert.rejects(
        routed.transaction(key.old, (tx) => tx`SELECT display_name FROM users`),
        (e: { code?: string }) => e.code === '42703',
      );
      // A violated CHECK (the new name is empty) fails the transaction and nothing of it stays.
      await assert.rejects(
        routed.transaction(key.new, async (tx) => {
          await tx`INSERT INTO users (id, display_name) VALUES (102, 'kept?')`;
          await tx`UPDATE users SET display_name = '' WHERE id = 3`;
        }),
        (e: { code?: string }) => e.code === '23514',
      );
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM users WHERE id = 102`)).rows[0].n, 0);
      // A fixed version: 'previous' is the old one.
      assert.equal(await routed.transactionOn('previous', async (_tx, version) => version), OLD_VERSION);

      await routed.core.flushHealth();
      assert.deepEqual(backgroundErrors, []);
      assert.deepEqual(await health(NEW_VERSION), { statements: 3, errors: 1, bySqlstate: { '23514': 1 } });
      assert.deepEqual(await health(OLD_VERSION), { statements: 3, errors: 1, bySqlstate: { '42703': 1 } });
    } finally {
      await routed.close();
      await sql.end();
    }
  });
});
