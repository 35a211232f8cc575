/**
 * Two pipelines run `tandem migrate` of one directory on one schema at the same moment. The runner
 * lock is held for the whole run, so they never interleave: with --wait both exit 0, one having
 * applied everything and the other finding nothing pending; without it, the one that loses fails
 * fast with runner-busy (exit 1) and changes nothing. Either way the history holds each file once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { killSpawned, spawnCli } from '../concurrency/support.js';

const FILES: [string, string][] = [
  ['0001_parts.yaml', 'operations:\n  - create_table: { name: parts, columns: [{ name: id, type: bigint, pk: true }, { name: code, type: text, nullable: true }] }\n'],
  ['0002_seed.yaml', 'operations:\n  - sql: { up: "INSERT INTO parts SELECT g, \'p\' || g FROM generate_series(1, 2000) g", down: DELETE FROM parts }\n'],
  ['0003_code_upper.yaml', 'operations:\n  - alter_column: { table: parts, column: code, nullable: false, up: "upper(coalesce(code, \'?\'))", down: code }\n'],
  ['0004_index.yaml', 'operations:\n  - create_index: { name: parts_code_idx, table: parts, columns: [{ column: code }] }\n'],
];

const dbs: TestDatabase[] = [];
afterEach(async () => {
  killSpawned();
  for (const d of dbs.splice(0)) await d.drop().catch(() => undefined);
});

interface Run {
  code: number | null;
  json: { actions?: unknown[]; error?: { code: string } };
}

async function migrate(dir: string, url: string, extra: string[]): Promise<Run> {
  const r = await spawnCli(['migrate', dir, '--json', '--batch-size', '100', ...extra], url).done;
  return { code: r.code, json: JSON.parse(r.stdout) as Run['json'] };
}

async function historyOf(db: TestDatabase): Promise<string[]> {
  return (await db.query(`SELECT name || ' ' || phase AS h FROM tandem.migrations ORDER BY id`)).rows.map((r) => r.h as string);
}

const EXPECTED = ['0001_parts completed', '0002_seed completed', '0003_code_upper completed', '0004_index active'];

test('two concurrent migrate runs of one schema do not interleave', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-migrate-concurrent-'));
  try {
    for (const [name, text] of FILES) writeFileSync(path.join(dir, name), text);

    const waiting = await createTestDatabase();
    dbs.push(waiting);
    const [a, b] = await Promise.all([migrate(dir, waiting.url, ['--wait']), migrate(dir, waiting.url, ['--wait'])]);
    assert.deepEqual([a.code, b.code], [0, 0], JSON.stringify([a.json, b.json]));
    const counts = [a.json.actions!.length, b.json.actions!.length].sort((x, y) => x - y);
    assert.deepEqual(counts, [0, FILES.length * 2 - 1], 'one run did everything, the other found nothing pending');
    assert.deepEqual(await historyOf(waiting), EXPECTED);

    const racing = await createTestDatabase();
    dbs.push(racing);
    const runs = await Promise.all([migrate(dir, racing.url, []), migrate(dir, racing.url, [])]);
    const codes = runs.map((r) => r.code).sort();
    // The loser fails fast; unless the winner had already finished when it looked (then it finds nothing to do).
    const loser = runs.find((r) => r.code !== 0);
    if (loser) assert.equal(loser.json.error?.code, 'runner-busy');
    assert.ok(codes[0] === 0 && (codes[1] === 0 || codes[1] === 1), `exit codes ${codes.join(', ')}`);
    assert.deepEqual(await historyOf(racing), EXPECTED);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
