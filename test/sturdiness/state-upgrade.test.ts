/**
 * The state schema's DDL is idempotent and upgrades an install made by an earlier tandem (state
 * version 1, without tandem.backfill_skipped): `tandem init` and `tandem start` bring it up to date.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { STATE_VERSION } from '../../src/state/schema-ddl.js';
import type { TestDatabase } from '../helpers/db.js';
import { writeMigrationFile } from '../concurrency/support.js';
import { cli, freshDatabase, killSpawned, migrations } from './support.js';

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop();
});

/** The install as the previous version of tandem left it. */
async function downgradeToVersion1(db: TestDatabase): Promise<void> {
  await db.query(`DROP TABLE tandem.backfill_skipped; UPDATE tandem.state_version SET version = 1`);
}

async function stateShape(db: TestDatabase): Promise<{ version: number; skippedTable: boolean }> {
  const r = await db.query(`SELECT (SELECT version FROM tandem.state_version) AS version, to_regclass('tandem.backfill_skipped') IS NOT NULL AS "skippedTable"`);
  return r.rows[0] as { version: number; skippedTable: boolean };
}

test('init twice, and start on an install of state version 1, upgrade it in place', { timeout: 60_000 }, async () => {
  const db = await freshDatabase(`CREATE TABLE users (id integer PRIMARY KEY, name text); INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 50) g;`, dbs);
  assert.equal((await cli(['init'], db.url)).code, 0);
  assert.equal((await cli(['init'], db.url)).code, 0);
  assert.deepEqual(await stateShape(db), { version: STATE_VERSION, skippedTable: true });

  await downgradeToVersion1(db);
  assert.equal((await cli(['init'], db.url)).code, 0);
  assert.deepEqual(await stateShape(db), { version: STATE_VERSION, skippedTable: true });

  await downgradeToVersion1(db);
  const file = writeMigrationFile('u1_shout', {
    name: 'u1_shout',
    operations: [{ add_column: { table: 'users', up: 'upper(name)', column: { name: 'shout', type: 'text', nullable: true } } }],
  });
  const r = await cli(['start', file, '--batch-size', '10'], db.url);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await stateShape(db), { version: STATE_VERSION, skippedTable: true });
  assert.deepEqual(
    (await migrations(db)).map((m) => m.phase),
    ['active'],
  );
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM users WHERE shout IS DISTINCT FROM upper(name)`)).rows[0].n, 0);
});
