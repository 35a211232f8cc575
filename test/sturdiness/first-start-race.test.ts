/**
 * Defect 4 of issue 7: two first `tandem start`s on a fresh database (no state schema yet) raced
 * on creating the state schema, and one failed with a raw duplicate-key error and a stack trace.
 * The runner lock (advisory, needs no schema) is taken before state is created, and creating the
 * state is safe against runners of other schemas doing it at the same time.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { TestDatabase } from '../helpers/db.js';
import { writeMigrationFile } from '../concurrency/support.js';
import { cli, type CliOutcome, freshDatabase, hasStackTrace, killSpawned, migrations } from './support.js';

const PAIRS = 16;
const SETUP = `
  CREATE SCHEMA other;
  CREATE TABLE public.users (id integer PRIMARY KEY, name text);
  CREATE TABLE other.users (id integer PRIMARY KEY, name text);
  INSERT INTO public.users SELECT g, 'u' || g FROM generate_series(1, 200) g;
  INSERT INTO other.users SELECT g, 'u' || g FROM generate_series(1, 200) g;`;

const file = writeMigrationFile('r1_shout', {
  name: 'r1_shout',
  operations: [{ add_column: { table: 'users', up: 'upper(name)', column: { name: 'shout', type: 'text', nullable: true } } }],
});

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop();
});

function describeRun(r: CliOutcome): string {
  return `exit ${r.code}, error code ${r.errorCode ?? '-'}: ${r.stderr.slice(0, 600)}`;
}

/** Exit 0, or 1 because the other runner held the lock; never a raw database error or a stack trace. */
function assertCleanOutcome(r: CliOutcome, pair: number): void {
  assert.ok(!hasStackTrace(r.stderr), `pair ${pair}: no stack trace: ${describeRun(r)}`);
  assert.ok(r.code === 0 || (r.code === 1 && r.errorCode === 'runner-busy'), `pair ${pair}: ${describeRun(r)}`);
}

test(`${PAIRS} pairs of concurrent first starts on fresh databases: each exits 0 or runner-busy, never a raw database error`, { timeout: 300_000 }, async () => {
  const outcomes: string[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    const db = await freshDatabase(SETUP, dbs);
    const [a, b] = await Promise.all([cli(['start', file], db.url), cli(['start', file], db.url)]);
    assertCleanOutcome(a, pair);
    assertCleanOutcome(b, pair);
    assert.ok(a.code === 0 || b.code === 0, `pair ${pair}: one of them started the migration: ${describeRun(a)} / ${describeRun(b)}`);
    assert.deepEqual((await migrations(db)).map((m) => [m.name, m.phase]), [['r1_shout', 'active']]);
    outcomes.push(`${a.code}${b.code}`);
    await db.drop();
    dbs.splice(dbs.indexOf(db), 1);
  }
  console.log(`# first-start pairs (exit codes): ${outcomes.join(' ')}`);
});

test(`${PAIRS} pairs with --wait: both exit 0 and exactly one migration row exists`, { timeout: 300_000 }, async () => {
  for (let pair = 0; pair < PAIRS; pair++) {
    const db = await freshDatabase(SETUP, dbs);
    const [a, b] = await Promise.all([cli(['start', file, '--wait'], db.url), cli(['start', file, '--wait'], db.url)]);
    for (const r of [a, b]) {
      assert.ok(!hasStackTrace(r.stderr), `pair ${pair}: ${describeRun(r)}`);
      assert.equal(r.code, 0, `pair ${pair}: ${describeRun(r)}`);
    }
    assert.equal((await migrations(db)).length, 1, `pair ${pair}`);
    await db.drop();
    dbs.splice(dbs.indexOf(db), 1);
  }
});

test('first starts on two schemas of a fresh database at once (different runner locks): both exit 0', { timeout: 300_000 }, async () => {
  for (let pair = 0; pair < PAIRS / 2; pair++) {
    const db = await freshDatabase(SETUP, dbs);
    const [a, b] = await Promise.all([cli(['start', file], db.url), cli(['start', file, '--schema', 'other'], db.url)]);
    for (const r of [a, b]) {
      assert.ok(!hasStackTrace(r.stderr), `pair ${pair}: ${describeRun(r)}`);
      assert.equal(r.code, 0, `pair ${pair}: ${describeRun(r)}`);
    }
    assert.deepEqual((await migrations(db)).map((m) => m.phase), ['active', 'active']);
    await db.drop();
    dbs.splice(dbs.indexOf(db), 1);
  }
});
