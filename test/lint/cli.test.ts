// @tier fast (no database: see scripts/run-tests.ts)
/** `tandem lint` as a user runs it: the real binary, its outputs and exit codes. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { parsePgVersion } from '../../src/cli/lint-command.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tandem-lint-cli-'));
const write = (name: string, sql: string) => {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, sql);
  return p;
};
const bad = write('migrations/0001_bad.sql', "SET lock_timeout = '1s';\nCREATE INDEX users_email_idx ON users (email);\n");
const warnOnly = write('migrations/0002_warn.sql', "UPDATE users SET plan = 'free';\n");
write('clean/0003_ok.sql', "SET lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n");
const broken = write('broken/0004_broken.sql', 'SELECT 1;\nALTER TABLE users ADD COLUMN;\n');
const config = write('lint.json', JSON.stringify({ rules: { 'create-index-non-concurrent': 'warning' } }));

describe('tandem lint (CLI)', { concurrency: true }, () => {
  test('human output, exit 1 on an error-level finding; NO_COLOR gives plain text', async () => {
    const r = await runCli(['lint', bad, warnOnly], { NO_COLOR: '1', FORCE_COLOR: '1' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /0001_bad\.sql:2:1 {2}error {2}create-index-non-concurrent/);
    assert.match(r.stdout, /0002_warn\.sql:1:1 {2}warning {2}unbatched-write/);
    assert.match(r.stdout, /why {5}takes a SHARE lock on users/);
    assert.doesNotMatch(r.stdout, /\x1b\[/);
  });

  test('exit 0 on warnings only; a directory lints every .sql below it', async () => {
    const r = await runCli(['lint', warnOnly, path.join(dir, 'clean')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 warning in 1 of 2 files \(2 files, 3 statements, PostgreSQL 14\)/);
  });

  test('a malformed file: its location, exit 2, no stack trace', async () => {
    const r = await runCli(['lint', broken, bad], { NO_COLOR: '1' });
    assert.equal(r.code, 2);
    assert.match(r.stdout, /0004_broken\.sql:2:29 {2}error {2}syntax-error {2}syntax error at or near ";"/);
    assert.match(r.stdout, /0001_bad\.sql:2:1/, 'the other files are still linted');
    assert.doesNotMatch(r.stdout + r.stderr, /at .*\.ts:\d+/);
  });

  test('--json (global) prints one JSON document; --format sarif and github (rendering: output.test.ts)', async () => {
    const json = await runCli(['--json', 'lint', bad]);
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.summary.errors, 1);
    assert.equal(doc.findings[0].rule, 'create-index-non-concurrent');
    const gh = await runCli(['lint', '--format', 'github', '--pg-version', '16', bad]);
    assert.match(gh.stdout, /^::error file=.*0001_bad\.sql,line=2,col=1,/m);
  });

  test('--config sets rule levels; --list-rules prints the rules', async () => {
    const r = await runCli(['lint', '--config', config, bad]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /warning {2}create-index-non-concurrent/);
    const list = await runCli(['lint', '--list-rules']);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^set-not-null +error +SET NOT NULL/m);
    assert.match(list.stdout, /^access-exclusive-held /m);
  });

  test('bad usage is exit 2 (an unknown format; missing files: analyze.test.ts)', async () => {
    const r = await runCli(['lint', '--format', 'xml', bad]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
  });

  test('--pg-version takes a major version', () => {
    assert.equal(parsePgVersion('15'), 15);
    assert.equal(parsePgVersion('16.4'), 16);
    assert.equal(parsePgVersion('9.6'), 9);
    assert.throws(() => parsePgVersion('latest'), InvalidArgumentError);
    assert.throws(() => parsePgVersion('7'), InvalidArgumentError);
  });
});
