// @tier fast (no database: see scripts/run-tests.ts)
/**
 * The file context, ignores, configuration, positions and parse errors of `tandem lint`, and the
 * pure helpers behind the rules (type changes, volatility, batching, durations).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { InvalidInputError } from '../../src/errors.js';
import { parseDuration } from '../../src/lint/analyze.js';
import { normalizeTypeName, type NormalType } from '../../src/lint/ast.js';
import { loadConfig } from '../../src/lint/config.js';
import { expandInputs, globToRegExp } from '../../src/lint/files.js';
import { exitCodeFor, lintSql, summarize } from '../../src/lint/index.js';
import { isBounded } from '../../src/lint/rules/unbatched-write.js';
import { loadParser } from '../../src/lint/source.js';
import { compareTypes } from '../../src/lint/type-change.js';
import { findVolatileCall } from '../../src/lint/volatility.js';

const rulesOf = async (sql: string, opts = {}) => (await lintSql(sql, opts)).findings.filter((f) => !f.suppressed).map((f) => f.rule);

describe('squawk: known false positives avoided, misses caught', () => {
  test('an index on a table created in the same file is not flagged', async () => {
    const r = await rulesOf('CREATE TABLE t (id bigint, v text);\nCREATE INDEX t_v ON t (v);');
    assert.deepEqual(r, []);
  });
  test('ADD COLUMN … DEFAULT now() is not a rewrite from PostgreSQL 11 (now() is STABLE)', async () => {
    const sql = "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();";
    assert.deepEqual(await rulesOf(sql), []);
    assert.deepEqual(await rulesOf(sql, { pgVersion: 10 }), ['add-column-volatile-default']);
  });
  test('VACUUM FULL, CLUSTER, LOCK TABLE, unbatched UPDATE and ACCESS EXCLUSIVE held are caught', async () => {
    const sql = [
      "SET lock_timeout = '1s';",
      'VACUUM FULL users;',
      'CLUSTER users USING users_pkey;',
      'UPDATE users SET plan = 1;',
      'BEGIN;',
      'LOCK TABLE orders;',
      'DELETE FROM orders WHERE id < 100;',
      'COMMIT;',
    ].join('\n');
    const r = await rulesOf(sql);
    for (const id of ['vacuum-full', 'cluster', 'unbatched-write', 'lock-table', 'access-exclusive-held']) assert.ok(r.includes(id), `missing ${id} in ${r.join(',')}`);
  });
});

describe('file context', () => {
  test('a table created, renamed, then altered is still new; a dropped one is not', async () => {
    const sql = [
      "SET lock_timeout = '1s';",
      'CREATE TABLE a (id int);',
      'ALTER TABLE a RENAME TO b;',
      'ALTER TABLE b ALTER COLUMN id TYPE bigint;',
      'DROP TABLE b;',
      'CREATE INDEX b_id ON b (id);',
    ].join('\n');
    const f = (await lintSql(sql)).findings;
    assert.deepEqual(
      f.map((x) => `${x.rule}@${x.line}`),
      ['create-index-non-concurrent@6'],
    );
  });
  test('schema-qualified and unqualified names of the default schema are one table', async () => {
    assert.deepEqual(await rulesOf('CREATE TABLE public.t (id int);\nCREATE INDEX ON t (id);'), []);
    assert.deepEqual(await rulesOf('CREATE TABLE other.t (id int);\nSET lock_timeout = 1;\nCREATE INDEX ON t (id);'), ['create-index-non-concurrent']);
  });
  test('SET LOCAL lock_timeout ends with the transaction; session SET survives COMMIT', async () => {
    const local = await rulesOf("BEGIN;\nSET LOCAL lock_timeout = '1s';\nCOMMIT;\nALTER TABLE u ADD COLUMN c int;");
    assert.deepEqual(local, ['require-lock-timeout']);
    const session = await rulesOf("BEGIN;\nSET lock_timeout = '1s';\nCOMMIT;\nALTER TABLE u ADD COLUMN c int;");
    assert.deepEqual(session, []);
  });
  test('ROLLBACK also releases the ACCESS EXCLUSIVE lock', async () => {
    const r = await rulesOf("SET lock_timeout = '1s';\nBEGIN;\nALTER TABLE u ADD COLUMN c int;\nROLLBACK;\nUPDATE u SET c = 1 WHERE id = 3;");
    assert.deepEqual(r, []);
  });
});

describe('inline ignores', () => {
  test('a comment before the statement, or at the end of its line, ignores the named rule there only', async () => {
    const sql = [
      "SET lock_timeout = '1s';",
      '-- tandem-ignore create-index-non-concurrent: the table has 10 rows',
      'CREATE INDEX a_idx ON a (x);',
      'CREATE INDEX b_idx ON b (x); -- tandem-ignore create-index-non-concurrent: lookup table',
      'CREATE INDEX c_idx ON c (x);',
    ].join('\n');
    const r = await lintSql(sql);
    const active = r.findings.filter((f) => !f.suppressed).map((f) => `${f.rule}@${f.line}`);
    assert.deepEqual(active, ['create-index-non-concurrent@5']);
    const suppressed = r.findings.filter((f) => f.suppressed);
    assert.equal(suppressed.length, 2);
    assert.deepEqual(suppressed[0]!.suppressed, { reason: 'the table has 10 rows', scope: 'statement' });
    const report = summarize([r], 14, false);
    assert.equal(report.suppressed, 2);
    assert.equal(report.errors, 1);
  });
  test('tandem-ignore-file and `all`, in line or block comments', async () => {
    const sql = '/* tandem-ignore-file require-lock-timeout, rename-column: legacy file */\nALTER TABLE u RENAME COLUMN a TO b;\n-- tandem-ignore all: reviewed\nDROP TABLE old;';
    assert.deepEqual(await rulesOf(sql), []);
  });
  test('an unknown rule or a missing reason is reported as invalid-ignore', async () => {
    const r = await rulesOf("SET lock_timeout = '1s';\n-- tandem-ignore no-such-rule: because\nSELECT 1;\n-- tandem-ignore drop-table\nDROP TABLE x;");
    assert.deepEqual(r, ['invalid-ignore', 'invalid-ignore']);
  });
});

describe('configuration', () => {
  test('levels: off removes a rule, warning downgrades it (exit 0)', async () => {
    const sql = 'CREATE INDEX i ON t (x);';
    const r = await lintSql(sql, { levels: { 'require-lock-timeout': 'off', 'create-index-non-concurrent': 'warning' } });
    assert.deepEqual(
      r.findings.map((f) => `${f.rule}:${f.severity}`),
      ['create-index-non-concurrent:warning'],
    );
    assert.equal(exitCodeFor(summarize([r], 14, false)), 0);
  });
  test('config files: .tandemlint.json is found in the directory, tandem-lint.yaml too; unknown rules are exit-2 errors', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tandem-lint-'));
    writeFileSync(path.join(dir, 'tandem-lint.yaml'), 'pgVersion: 12\nrules:\n  rename-column: off\nexclude: ["legacy/**"]\n');
    const yaml = await loadConfig(undefined, dir);
    assert.equal(yaml.pgVersion, 12);
    assert.deepEqual(yaml.levels, { 'rename-column': 'off' });
    writeFileSync(path.join(dir, '.tandemlint.json'), JSON.stringify({ assumeInTransaction: true, rules: { 'drop-table': 'warning' } }));
    const json = await loadConfig(undefined, dir);
    assert.equal(json.assumeInTransaction, true);
    assert.deepEqual(json.levels, { 'drop-table': 'warning' });
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ rules: { 'no-such-rule': 'off' } }));
    await assert.rejects(loadConfig(path.join(dir, 'bad.json')), (e: unknown) => e instanceof InvalidInputError && e.exitCode === 2 && /no-such-rule/.test(e.message));
    writeFileSync(path.join(dir, 'typo.json'), JSON.stringify({ rulez: {} }));
    await assert.rejects(loadConfig(path.join(dir, 'typo.json')), InvalidInputError);
  });
});

describe('parsing and positions', () => {
  test('a malformed file is a syntax-error finding at its line and column, exit 2, never a throw', async () => {
    const r = await lintSql('-- héllo ☕\nSELECT 1;\nALTER TABLE users ADD COLUMN;\n', { file: 'm.sql' });
    assert.ok(r.parseError);
    assert.equal(r.parseError.line, 3);
    assert.equal(r.parseError.column, 29); // the ";" after COLUMN, counted in characters
    assert.match(r.parseError.message, /syntax error at or near ";"/);
    assert.deepEqual(
      r.findings.map((f) => f.rule),
      ['syntax-error'],
    );
    assert.equal(exitCodeFor(summarize([r], 14, false)), 2);
  });
  test('columns count characters, not bytes, after non-ASCII text', async () => {
    const r = await lintSql("SET lock_timeout = 'é€';\nSELECT 'ü☕'; ALTER TABLE users ADD COLUMN t uuid DEFAULT gen_random_uuid();");
    const f = r.findings.find((x) => x.rule === 'add-column-volatile-default');
    assert.ok(f);
    assert.equal(f.line, 2);
    const line = "SELECT 'ü☕'; ALTER TABLE users ADD COLUMN t uuid DEFAULT gen_random_uuid();";
    assert.equal(f.column, line.indexOf('gen_random_uuid') + 1);
  });
  test('empty and comment-only files have no statements; psql meta-commands are skipped', async () => {
    assert.equal((await lintSql('')).statements, 0);
    assert.equal((await lintSql('-- nothing here\n/* at all */\n')).statements, 0);
    const r = await lintSql("\\set ON_ERROR_STOP on\nSET lock_timeout = '1s';\nCREATE INDEX i ON t (x);\n");
    assert.equal(r.parseError, undefined);
    assert.deepEqual(
      r.findings.map((f) => `${f.rule}@${f.line}:${f.column}`),
      ['create-index-non-concurrent@3:1'],
    );
  });
  test('statements after the first keep their own line, even with comments in between', async () => {
    const r = await lintSql("SET lock_timeout = '1s'; /* c */\n\n-- note\n  CREATE INDEX i ON t (x);");
    assert.deepEqual(
      r.findings.map((f) => `${f.line}:${f.column}`),
      ['4:3'],
    );
  });
  test('the parser loads once and is reused', async () => {
    assert.equal(await loadParser(), await loadParser());
  });
});

describe('type changes', () => {
  const T = (name: string, mods: number[] = [], array = false): NormalType => ({ name, mods, array });
  const v = (from: NormalType, to: NormalType, pg = 14) => compareTypes(from, to, pg).verdict;
  test('binary-compatible and widening changes do not rewrite', () => {
    assert.equal(v(T('varchar', [50]), T('varchar', [100])), 'no-rewrite');
    assert.equal(v(T('varchar', [50]), T('varchar')), 'no-rewrite');
    assert.equal(v(T('varchar', [50]), T('text')), 'no-rewrite');
    assert.equal(v(T('text'), T('varchar')), 'no-rewrite');
    assert.equal(v(T('numeric', [10, 2]), T('numeric', [12, 2])), 'no-rewrite');
    assert.equal(v(T('numeric', [10, 2]), T('numeric')), 'no-rewrite');
    assert.equal(v(T('cidr'), T('inet')), 'no-rewrite');
    assert.equal(v(T('timestamptz', [3]), T('timestamptz')), 'no-rewrite');
    assert.equal(v(T('varbit', [8]), T('varbit', [16])), 'no-rewrite');
  });
  test('narrowing, scale changes and conversions rewrite', () => {
    assert.equal(v(T('varchar', [100]), T('varchar', [50])), 'rewrite');
    assert.equal(v(T('text'), T('varchar', [10])), 'rewrite');
    assert.equal(v(T('numeric', [10, 2]), T('numeric', [12, 4])), 'rewrite');
    assert.equal(v(T('numeric'), T('numeric', [12, 2])), 'rewrite');
    assert.equal(v(T('int4'), T('int8')), 'rewrite');
    assert.equal(v(T('text'), T('int4')), 'rewrite');
    assert.equal(v(T('varchar', [5], true), T('varchar', [5])), 'rewrite');
    assert.equal(v(T('bpchar', [5]), T('bpchar', [10])), 'rewrite');
  });
  test('timestamp → timestamptz depends on the time zone from 12, rewrites before', () => {
    assert.equal(v(T('timestamp'), T('timestamptz'), 12), 'maybe');
    assert.equal(v(T('timestamp'), T('timestamptz'), 11), 'rewrite');
  });
  test('type names are normalised as the catalog spells them', async () => {
    const lib = await loadParser();
    const stmt = lib.parseSync('ALTER TABLE t ALTER a TYPE character varying(20), ALTER b TYPE int, ALTER c TYPE decimal(5,1)[]').stmts![0]!.stmt as {
      AlterTableStmt: { cmds: { AlterTableCmd: { def: { ColumnDef: { typeName: Parameters<typeof normalizeTypeName>[0] } } } }[] };
    };
    const types = stmt.AlterTableStmt.cmds.map((c) => normalizeTypeName(c.AlterTableCmd.def.ColumnDef.typeName));
    assert.deepEqual(types, [T('varchar', [20]), T('int4'), T('numeric', [5, 1], true)]);
  });
});

describe('helpers', () => {
  const expr = async (e: string) => {
    const lib = await loadParser();
    const s = lib.parseSync(`SELECT 1 FROM t WHERE ${e}`).stmts![0]!.stmt as { SelectStmt: { whereClause: Parameters<typeof isBounded>[0] } };
    return s.SelectStmt.whereClause;
  };
  test('volatility: random(), clock_timestamp() and nextval() are volatile; now() and current_timestamp are not', async () => {
    const none = () => undefined;
    assert.equal(findVolatileCall(await expr('random() > 0'), none)?.name, 'random');
    assert.equal(findVolatileCall(await expr("x = nextval('s')"), none)?.name, 'nextval');
    assert.equal(findVolatileCall(await expr('x = lower(clock_timestamp()::text)'), none)?.name, 'clock_timestamp');
    assert.equal(findVolatileCall(await expr('x = now() + current_timestamp'), none), undefined);
    assert.equal(findVolatileCall(await expr('x = txid_current()'), none), undefined, 'txid_current is STABLE in pg_proc');
    assert.equal(findVolatileCall(await expr('x = my_fn()'), (p) => (p.at(-1) === 'my_fn' ? 'v' : undefined))?.name, 'my_fn');
  });
  test('bounded WHERE clauses', async () => {
    for (const e of ['id < 1000', 'id BETWEEN 1 AND 10', "key = 'x'", 'id IN (1, 2)', 'id IN (SELECT id FROM t LIMIT 10)', 'a IS NULL AND id >= 5']) {
      assert.equal(isBounded(await expr(e)), true, e);
    }
    for (const e of ['a IS NULL', 'NOT done', 'u.id = o.user_id', 'flag', 'a IS NULL OR id < 3', 'true']) {
      assert.equal(isBounded(await expr(e)), false, e);
    }
  });
  test('lock_timeout values', () => {
    assert.equal(parseDuration('1s'), 1000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('2min'), 120_000);
    assert.equal(parseDuration('500'), 500);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('soon'), undefined);
  });
  test('inputs: files, directories (recursively, *.sql) and globs; excludes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tandem-lint-files-'));
    mkdirSync(path.join(dir, 'migrations', 'legacy'), { recursive: true });
    for (const f of ['migrations/002_b.sql', 'migrations/001_a.sql', 'migrations/legacy/000_old.sql', 'migrations/notes.md']) writeFileSync(path.join(dir, f), 'SELECT 1;');
    assert.deepEqual(expandInputs(['migrations'], [], dir), ['migrations/001_a.sql', 'migrations/002_b.sql', 'migrations/legacy/000_old.sql']);
    assert.deepEqual(expandInputs(['migrations/*.sql'], [], dir), ['migrations/001_a.sql', 'migrations/002_b.sql']);
    assert.deepEqual(expandInputs(['migrations/**/*.sql'], ['migrations/legacy/**'], dir), ['migrations/001_a.sql', 'migrations/002_b.sql']);
    assert.deepEqual(expandInputs(['migrations/001_a.sql', 'migrations/00{1,2}_*.sql'], [], dir), ['migrations/001_a.sql', 'migrations/002_b.sql']);
    assert.throws(() => expandInputs(['nope/*.sql'], [], dir), InvalidInputError);
    assert.throws(() => expandInputs(['missing.sql'], [], dir), InvalidInputError);
    assert.ok(globToRegExp('**/*.sql').test('a/b/c.sql') && globToRegExp('**/*.sql').test('c.sql'));
  });
});

describe('many files', () => {
  test('two threads give the same findings, in the same order, as one', async () => {
    const { runLint } = await import('../../src/lint/index.js');
    const { PARALLEL_MIN_FILES } = await import('../../src/lint/parallel.js');
    const dir = mkdtempSync(path.join(tmpdir(), 'tandem-lint-many-'));
    const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'lint');
    const { readdirSync, readFileSync } = await import('node:fs');
    const sources = readdirSync(fixtures).flatMap((d) => readdirSync(path.join(fixtures, d)).map((f) => readFileSync(path.join(fixtures, d, f), 'utf8')));
    const count = Math.max(PARALLEL_MIN_FILES + 10, sources.length);
    for (let i = 0; i < count; i++) writeFileSync(path.join(dir, `${String(i).padStart(4, '0')}.sql`), sources[i % sources.length]!);
    const run = async (threads: string) => {
      const prev = process.env['TANDEM_LINT_THREADS'];
      process.env['TANDEM_LINT_THREADS'] = threads;
      const streamed: string[] = [];
      try {
        const r = await runLint({ inputs: ['.'], cwd: dir, onFile: (f) => streamed.push(f.file) });
        return { r, streamed };
      } finally {
        if (prev === undefined) delete process.env['TANDEM_LINT_THREADS'];
        else process.env['TANDEM_LINT_THREADS'] = prev;
      }
    };
    const one = await run('1');
    const two = await run('2');
    assert.equal(two.r.files.length, count);
    assert.deepEqual(two.streamed, one.streamed, 'streamed in file order');
    assert.deepEqual(
      two.r.files.map((f) => f.findings),
      one.r.files.map((f) => f.findings),
    );
  });
  test('the worker thread lints its share (and the main thread redoes nothing)', async () => {
    const { lintInParallel } = await import('../../src/lint/parallel.js');
    const lib = await loadParser();
    const { lintText } = await import('../../src/lint/analyze.js');
    const n = 40;
    const names = Array.from({ length: n }, (_, i) => `f${i}.sql`);
    const texts = names.map((_, i) => `SET lock_timeout = '1s';\nCREATE INDEX i${i} ON t${i} (x);`);
    const opts = { pgVersion: 14, assumeInTransaction: false, levels: {}, defaultSchema: 'public' };
    const order: string[] = [];
    let onMain = 0;
    const slow = (i: number) => {
      onMain++;
      const until = Date.now() + 5; // a slow main thread leaves files to the worker
      while (Date.now() < until);
      return lintText(lib, texts[i]!, names[i]!, opts);
    };
    const { results, byWorker } = await lintInParallel(names, texts, opts, slow, (r) => order.push(r.file), 60_000);
    assert.ok(byWorker > 0, 'the worker took files');
    assert.equal(onMain + byWorker, n, 'each file linted once');
    assert.deepEqual(order, names);
    assert.ok(results.every((r, i) => r.findings[0]?.rule === 'create-index-non-concurrent' && r.source === texts[i]));
  });
});
