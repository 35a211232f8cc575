import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { catalogSnapshot } from '../helpers/catalog.js';
import { migration, run, runRollback, withDatabase } from './support.js';

/**
 * Rollback restores more than columns: privileges (table and column), replica identity and
 * storage parameters are part of the snapshot, and the snapshot is not blind to them.
 */
test('rollback restores privileges, replica identity and storage parameters; the snapshot sees each of them', async () => {
  const role = `tandem_reader_${randomBytes(4).toString('hex')}`;
  const setup = `
    CREATE ROLE ${role} NOLOGIN;
    CREATE TABLE accounts (id integer PRIMARY KEY, email text, score text, note text) WITH (fillfactor = 70, autovacuum_enabled = false);
    CREATE UNIQUE INDEX accounts_email_key ON accounts (email) WHERE email IS NOT NULL;
    ALTER TABLE accounts REPLICA IDENTITY FULL;
    GRANT SELECT, INSERT ON accounts TO ${role};
    GRANT UPDATE (note) ON accounts TO ${role};
    INSERT INTO accounts SELECT g, 'a' || g || '@x.io', g::text, NULL FROM generate_series(1, 60) g;
  `;
  try {
    await withDatabase(setup, async (env) => {
      const before = await catalogSnapshot(env.old);
      await run(
        env,
        migration({
          name: 'accounts_change',
          operations: [
            { alter_column: { table: 'accounts', column: 'score', type: 'integer', up: 'CAST(score AS integer)', down: 'CAST(score AS text)' } },
            { alter_column: { table: 'accounts', column: 'email', nullable: false, up: "coalesce(email, 'none')", down: 'email' } },
            { add_column: { table: 'accounts', column: { name: 'plan', type: 'text', nullable: true } } },
          ],
        }),
      );
      assert.notDeepEqual(await catalogSnapshot(env.old), before, 'start changed the schema');
      await runRollback(env);
      assert.deepEqual(await catalogSnapshot(env.old), before);

      // The snapshot is not blind: each property, changed alone, shows up in it.
      for (const [change, undo] of [
        [`REVOKE INSERT ON accounts FROM ${role}`, `GRANT INSERT ON accounts TO ${role}`],
        [`REVOKE UPDATE (note) ON accounts FROM ${role}`, `GRANT UPDATE (note) ON accounts TO ${role}`],
        ['ALTER TABLE accounts REPLICA IDENTITY DEFAULT', 'ALTER TABLE accounts REPLICA IDENTITY FULL'],
        ['ALTER TABLE accounts SET (fillfactor = 80)', 'ALTER TABLE accounts SET (fillfactor = 70)'],
      ] as const) {
        await env.old.query(change);
        assert.notDeepEqual(await catalogSnapshot(env.old), before, `the snapshot sees: ${change}`);
        await env.old.query(undo);
        assert.deepEqual(await catalogSnapshot(env.old), before, `undone: ${undo}`);
      }
    });
  } finally {
    // Roles are cluster-wide: drop the one this test made (its database is gone by now).
    const { adminUrl } = await import('../helpers/db.js');
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await admin.end();
  }
});
