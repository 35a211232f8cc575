/**
 * Regenerates the golden plans: runs the migrations of examples/ in order (start → complete) on a
 * scratch database, and before each one writes
 *   test/fixtures/golden/<example>.facts.json   the facts its planning reads (the schema as the
 *                                               examples before it left it), and
 *   examples/<example>.plan.txt                 its rendered plan (what `tandem plan` prints).
 * test/unit/golden-plans.test.ts plans each example from its facts, without a database, and
 * compares. Review the diff of both kinds of file before committing them. The committed facts
 * come from the embedded PostgreSQL (the default below).
 *   npm run golden:update                       # on an embedded PostgreSQL
 *   TANDEM_TEST_DATABASE_URL=postgres://… npm run golden:update
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { renderPlan } from '../src/cli/render-plan.js';
import { databaseUrlFor } from '../src/db/connection.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { complete, type EngineOptions, start } from '../src/engine/lifecycle.js';
import { loadMigrationFile } from '../src/migration/load.js';
import { gatherFacts } from '../src/plan/facts.js';
import { planMigration } from '../src/plan/planner.js';
import { latestVersionSchema, stateSchemaReady } from '../src/state/store.js';

const root = path.resolve(import.meta.dirname, '..');
const examplesDir = path.join(root, 'examples');
const fixturesDir = path.join(root, 'test/fixtures/golden');
const options: EngineOptions = { lockTimeoutMs: 1_000, lockRetryForMs: 10_000 };

/** examples/NN_x.yaml → NN_x */
function exampleBase(file: string): string {
  return file.replace(/\.(ya?ml|json)$/, '');
}

async function withScratchDatabase(fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const server = process.env['TANDEM_TEST_DATABASE_URL'] ? undefined : await startEmbeddedPostgres();
  const adminUrl = process.env['TANDEM_TEST_DATABASE_URL'] ?? server!.url;
  const name = `tandem_golden_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
    const client = new pg.Client({ connectionString: databaseUrlFor(adminUrl, name), application_name: 'tandem-golden' });
    await client.connect();
    try {
      await fn(client);
    } finally {
      await client.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
    await server?.stop();
  }
}

const files = (await readdir(examplesDir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
await mkdir(fixturesDir, { recursive: true });
await withScratchDatabase(async (client) => {
  // The facts are the catalog's words, which differ a little between majors (PostgreSQL 18 lists
  // NOT NULL constraints): regenerating on another major changes facts files, not plans.
  const version = (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
  console.log(`golden: facts read from PostgreSQL ${version}`);
  for (const file of files) {
    const migration = await loadMigrationFile(path.join(examplesDir, file));
    const previousVersionSchema = (await stateSchemaReady(client)) ? await latestVersionSchema(client, 'public') : null;
    const facts = await gatherFacts(client, { schema: 'public', migration, previousVersionSchema });
    const { plan } = planMigration(facts, migration);
    const base = exampleBase(file);
    await writeFile(path.join(fixturesDir, `${base}.facts.json`), `${JSON.stringify(facts, null, 2)}\n`);
    await writeFile(path.join(examplesDir, `${base}.plan.txt`), `${renderPlan(plan)}\n`);
    console.log(`golden: ${base} (${renderPlan(plan).split('\n').length} lines)`);
    await start(client, migration, options);
    await complete(client, options);
  }
});
