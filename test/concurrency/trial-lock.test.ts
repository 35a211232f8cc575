/**
 * Planning reads the catalog and runs trials, and both lock what they touch: catalog functions
 * take ACCESS SHARE on the table they describe, a trial CREATE TABLE … REFERENCES takes SHARE ROW
 * EXCLUSIVE on the referenced table. Both take the same short lock_timeout as the real statements,
 * are retried with the shared lock-retry helper, and give up cleanly — lock-timeout, the step
 * named, nothing changed — instead of waiting forever behind a long transaction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { start } from '../../src/engine/lifecycle.js';
import { LockTimeoutError } from '../../src/errors.js';
import { catalogSnapshot } from '../helpers/catalog.js';
import { createTestDatabase } from '../helpers/db.js';
import { migration } from '../lifecycle/support.js';

async function blockedStart(blockerSql: string, expectedStep: string): Promise<void> {
  const db = await createTestDatabase();
  try {
    await db.query('CREATE TABLE users (id integer PRIMARY KEY, name text)');
    const engine = await db.connect('tandem-engine');
    const blocker = await db.connect('report');
    const before = await catalogSnapshot(engine);
    await blocker.query('BEGIN');
    await blocker.query(blockerSql);
    const m = migration({
      name: 'orders',
      operations: [
        {
          create_table: {
            name: 'orders',
            columns: [
              { name: 'id', type: 'integer', pk: true },
              { name: 'user_id', type: 'integer', nullable: true, references: { name: 'orders_user_fk', table: 'users', column: 'id' } },
            ],
          },
        },
      ],
    });
    await assert.rejects(start(engine, m, { lockTimeoutMs: 20, lockRetryForMs: 400 }), (err: unknown) => {
      assert.ok(err instanceof LockTimeoutError, String(err));
      assert.equal(err.code, 'lock-timeout');
      assert.equal(err.step, expectedStep);
      assert.ok(err.attempts > 1, `retried: ${err.attempts} attempts`);
      return true;
    });
    await blocker.query('COMMIT');
    assert.deepEqual(await catalogSnapshot(engine), before);
    assert.equal((await engine.query(`SELECT to_regnamespace('tandem') IS NULL AS none`)).rows[0].none, true, 'no state schema created');
    // Once the lock is free the same start goes through.
    await start(engine, m, { lockTimeoutMs: 20, lockRetryForMs: 5_000 });
    assert.equal((await engine.query(`SELECT to_regclass('public.orders') IS NOT NULL AS made`)).rows[0].made, true);
  } finally {
    await db.drop();
  }
}

test('catalog reads blocked by an ACCESS EXCLUSIVE holder give up after --lock-retry-for (read-catalog); nothing is changed', { timeout: 60_000 }, async () => {
  await blockedStart('LOCK TABLE users IN ACCESS EXCLUSIVE MODE', 'read-catalog');
});

test("a trial blocked by a writer's open transaction gives up after --lock-retry-for (validate); nothing is changed", { timeout: 60_000 }, async () => {
  await blockedStart('UPDATE users SET name = name WHERE false', 'validate');
});
