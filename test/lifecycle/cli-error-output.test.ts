/**
 * No stack trace, ever: an error that is not one of Tandem's own (a raw database error, a bug)
 * ends the command with a one-line message, exit 1, and with --json a document carrying `code`.
 * TANDEM_DEBUG=1 adds the stack.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** A line of a V8 stack trace ("    at fn (file:1:2)"). */
const STACK_LINE = /^\s+at .+[:(]/m;

describe('CLI error output', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    // A state schema that looks initialised but lacks its tables: `status` then gets a raw
    // PostgreSQL error (42P01, undefined_table) from its first query.
    await db.query('CREATE SCHEMA tandem; CREATE TABLE tandem.state_version (version integer)');
  });
  after(() => db.drop());

  test('a raw PostgreSQL error: exit 1, message with its SQLSTATE, no stack trace', async () => {
    const r = await runCli(['status', '--database-url', db.url]);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, STACK_LINE, r.stderr);
    assert.match(r.stderr, /SQLSTATE 42P01/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  test('with --json: one document on stdout with the code, no stack trace on stderr', async () => {
    const r = await runCli(['--json', 'status', '--database-url', db.url]);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as { error: { code: string; sqlstate: string; exitCode: number } };
    assert.equal(doc.error.code, 'sqlstate-42P01');
    assert.equal(doc.error.sqlstate, '42P01');
    assert.equal(doc.error.exitCode, 1);
    assert.doesNotMatch(r.stderr, STACK_LINE, r.stderr);
  });

  test('TANDEM_DEBUG=1 adds the stack trace', async () => {
    const r = await runCli(['status', '--database-url', db.url], { TANDEM_DEBUG: '1' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, STACK_LINE);
  });

  test('a malformed connection URL: no stack trace, a failing exit code', async () => {
    const r = await runCli(['status', '--database-url', 'postgres://u:secret@host:99999/db']);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, STACK_LINE, r.stderr);
    assert.doesNotMatch(r.stderr + r.stdout, /secret/);
  });
});
