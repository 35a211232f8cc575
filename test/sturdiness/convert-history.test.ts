// @tier slow
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertSameSchema, runHistory } from '../convert/history-run.js';

/**
 * Adoption by conversion at the size of a real project: a generated history of SQL migrations
 * (test/fixtures/sql-history/generate.ts, seeded) converted with `tandem convert <dir> -o <dir>`,
 * applied with `tandem migrate <dir> --complete`, compared with the SQL applied directly.
 * TANDEM_HISTORY_FILES (default 60, to keep CI's slow tier short; the target is 300:
 * `TANDEM_HISTORY_FILES=300 npm run test:history`) and TANDEM_HISTORY_SEED (default 1) size it.
 */
const files = Number(process.env['TANDEM_HISTORY_FILES'] ?? 60);
const seed = Number(process.env['TANDEM_HISTORY_SEED'] ?? 1);

describe('convert a long SQL history', () => {
  it(`${files} generated files (seed ${seed}): the same schema and rows as the SQL applied directly`, async () => {
    const r = await runHistory({ files, seed });
    process.stdout.write(
      `# history: ${r.files} SQL files -> ${r.migrations} migrations; direct ${r.timings.directMs} ms, convert ${r.timings.convertMs} ms, ` +
        `migrate ${r.timings.migrateMs} ms (${Math.round(r.timings.migrateMs / r.migrations)} ms per migration)\n`,
    );
    assertSameSchema(r);
    assert.equal(r.convertJson.todos.length, 0, 'every up/down was inferred');
  });
});
