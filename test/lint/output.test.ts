// @tier fast (no database: see scripts/run-tests.ts)
/** The four renderings of one report: human (colors, code frame), JSON, SARIF 2.1.0, GitHub annotations. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shouldColor } from '../../src/lint/format/human.js';
import { lintSql, listRules, metaRules, render, ruleIds, summarize } from '../../src/lint/index.js';

const SQL = [
  "SET lock_timeout = '1s';",
  'CREATE INDEX users_email_idx ON users (email);',
  '-- tandem-ignore drop-column: unused since v12, verified in logs',
  'ALTER TABLE users DROP COLUMN legacy;',
  'UPDATE users SET plan = 1;',
].join('\n');

async function report() {
  const broken = await lintSql('SELECT 1;\nSELEC 2;', { file: 'db/broken.sql' });
  const file = await lintSql(SQL, { file: 'db/migrations/0042 add, index.sql' });
  return summarize([file, broken], 14, false);
}

describe('lint output', () => {
  test('human: file:line:col, severity, rule, code frame with caret, why/safe/tandem, summary', async () => {
    const out = render(await report(), 'human', { color: false });
    assert.match(out, /^db\/migrations\/0042 add, index\.sql:2:1 {2}error {2}create-index-non-concurrent {2}CREATE INDEX users_email_idx on users without CONCURRENTLY$/m);
    assert.match(out, /> 2 \| CREATE INDEX users_email_idx ON users \(email\);\n\s+\| \^/);
    assert.match(out, /^ {2}why {5}takes a SHARE lock on users/m);
    assert.match(out, /^ {2}safe {4}CREATE INDEX CONCURRENTLY/m);
    assert.match(out, /^ {2}tandem {2}`create_index`/m);
    assert.match(out, /db\/broken\.sql:2:1 {2}error {2}syntax-error {2}syntax error at or near "SELEC"/);
    assert.doesNotMatch(out, /drop-column {2}/, 'ignored findings are not shown');
    assert.match(out, /1 file could not be parsed, 1 error, 1 warning in 2 of 2 files \(2 files, 4 statements, PostgreSQL 14\); 1 ignored by tandem-ignore/);
    assert.doesNotMatch(out, /\x1b\[/);
    assert.match(render(await report(), 'human', { color: true }), /\x1b\[31m/);
  });

  test('colors honour NO_COLOR and FORCE_COLOR', () => {
    assert.equal(shouldColor({ isTTY: true }, {}), true);
    assert.equal(shouldColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(shouldColor({ isTTY: false }, {}), false);
    assert.equal(shouldColor({ isTTY: false }, { FORCE_COLOR: '1' }), true);
    assert.equal(shouldColor({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count');
  });

  test('json: one document with summary, findings (suppressed marked) and files', async () => {
    const doc = JSON.parse(render(await report(), 'json'));
    assert.equal(doc.exitCode, 2);
    assert.deepEqual(doc.summary, { files: 2, statements: 4, errors: 2, warnings: 1, suppressed: 1, parseErrors: 1 });
    const rules = doc.findings.map((f: { rule: string }) => f.rule);
    assert.deepEqual(rules, ['create-index-non-concurrent', 'drop-column', 'unbatched-write', 'syntax-error']);
    const dropped = doc.findings[1];
    assert.deepEqual(dropped.suppressed, { reason: 'unused since v12, verified in logs', scope: 'statement' });
    assert.equal(doc.findings[0].lock, 'SHARE');
    assert.deepEqual(doc.files[1].parseError, { message: 'syntax error at or near "SELEC"', line: 2, column: 1 });
  });

  test('sarif: a valid 2.1.0 log with every rule, results with regions, and in-source suppressions', async () => {
    const log = JSON.parse(render(await report(), 'sarif', { toolVersion: '0.1.0' }));
    assert.equal(log.version, '2.1.0');
    assert.match(log.$schema, /sarif-2\.1\.0/);
    const run = log.runs[0];
    assert.equal(run.tool.driver.name, 'tandem-lint');
    const ids = run.tool.driver.rules.map((r: { id: string }) => r.id);
    assert.deepEqual(ids, [...ruleIds, ...Object.keys(metaRules)]);
    for (const r of run.tool.driver.rules) {
      assert.ok(r.shortDescription.text && r.fullDescription.text && r.help.text);
      assert.ok(['error', 'warning'].includes(r.defaultConfiguration.level));
    }
    const first = run.results[0];
    assert.equal(first.ruleId, 'create-index-non-concurrent');
    assert.equal(run.tool.driver.rules[first.ruleIndex].id, first.ruleId);
    assert.equal(first.level, 'error');
    assert.equal(first.locations[0].physicalLocation.artifactLocation.uri, 'db/migrations/0042%20add,%20index.sql');
    assert.deepEqual(first.locations[0].physicalLocation.region, { startLine: 2, startColumn: 1, endLine: 2, endColumn: 46 });
    const suppressed = run.results.find((r: { ruleId: string }) => r.ruleId === 'drop-column');
    assert.deepEqual(suppressed.suppressions, [{ kind: 'inSource', justification: 'unused since v12, verified in logs' }]);
    assert.equal(run.invocations[0].executionSuccessful, false);
    assert.equal(run.invocations[0].toolExecutionNotifications.length, 1);
  });

  test('github: one escaped workflow command per unsuppressed finding', async () => {
    const lines = render(await report(), 'github').split('\n');
    const cmds = lines.filter((l) => l.startsWith('::'));
    assert.equal(cmds.length, 3);
    assert.match(
      cmds[0]!,
      /^::error file=db\/migrations\/0042 add%2C index\.sql,line=2,col=1,endLine=2,endColumn=46,title=tandem lint%3A create-index-non-concurrent::CREATE INDEX users_email_idx on users without CONCURRENTLY%0Awhy: /,
    );
    assert.match(cmds[1]!, /^::warning file=.*title=tandem lint%3A unbatched-write::/);
    assert.match(cmds[2]!, /^::error file=db\/broken\.sql,line=2,col=1,/);
    assert.ok(!cmds.some((c) => c.includes('\n')));
  });

  test('--list-rules: every rule, one line each', () => {
    const lines = listRules('human').split('\n');
    assert.equal(lines.length, ruleIds.length + Object.keys(metaRules).length);
    for (const id of ruleIds)
      assert.ok(
        lines.some((l) => l.startsWith(`${id} `)),
        id,
      );
    const json = JSON.parse(listRules('json'));
    assert.ok(json.every((r: { id: string; summary: string; tandem: string }) => r.id && r.summary && r.tandem));
  });
});
