// @tier fast (no database: see scripts/run-tests.ts)
/**
 * Every rule has fixtures in test/fixtures/lint/<rule-id>/: each bad*.sql must yield the rule,
 * each good*.sql must not — so a false positive fails as surely as a miss. A first-line comment
 * `-- fixture: pg-version=11, assume-in-transaction` sets lint options for that file.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { lintSql, ruleIds, type LintSqlOptions } from '../../src/lint/index.js';

const root = path.join(import.meta.dirname, '..', 'fixtures', 'lint');

function optionsOf(sql: string): LintSqlOptions {
  const m = /^--\s*fixture:\s*(.*)$/m.exec(sql);
  const opts: LintSqlOptions = {};
  for (const part of (m?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [k, v] = part.split('=');
    if (k === 'pg-version') opts.pgVersion = Number(v);
    else if (k === 'assume-in-transaction') opts.assumeInTransaction = true;
    else throw new Error(`unknown fixture option ${part}`);
  }
  return opts;
}

const dirs = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

test('every rule has bad and good fixtures, and every fixture directory is a rule', () => {
  for (const id of ruleIds) {
    assert.ok(dirs.includes(id), `no fixtures for rule ${id}`);
    const files = readdirSync(path.join(root, id));
    assert.ok(
      files.some((f) => f.startsWith('bad')),
      `rule ${id} has no bad*.sql fixture`,
    );
    assert.ok(
      files.some((f) => f.startsWith('good')),
      `rule ${id} has no good*.sql fixture`,
    );
  }
  for (const d of dirs) assert.ok((ruleIds as string[]).includes(d), `fixture directory ${d} names no rule`);
});

for (const rule of dirs) {
  describe(rule, () => {
    for (const name of readdirSync(path.join(root, rule))
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      const file = path.join(root, rule, name);
      test(name, async () => {
        const sql = readFileSync(file, 'utf8');
        const result = await lintSql(sql, { ...optionsOf(sql), file: `${rule}/${name}` });
        assert.equal(result.parseError, undefined, `fixture does not parse: ${result.parseError?.message}`);
        const hits = result.findings.filter((f) => f.rule === rule);
        if (name.startsWith('bad')) {
          assert.ok(hits.length > 0, `expected ${rule}; got ${result.findings.map((f) => `${f.rule}@${f.line}`).join(', ') || 'nothing'}`);
          for (const h of hits) {
            assert.ok(h.message.length > 0 && h.why.length > 0 && h.safe.length > 0 && h.tandem.length > 0, 'finding explains itself');
            assert.ok(h.line >= 1 && h.column >= 1);
          }
        } else {
          assert.deepEqual(
            hits.map((h) => `${h.line}:${h.column} ${h.message}`),
            [],
            `false positive of ${rule}`,
          );
        }
      });
    }
  });
}
