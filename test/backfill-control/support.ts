/** Shared pieces of the backfill-control tests: a long-running `tandem` child process whose output can be read while it runs. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { projectRoot } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

export interface RunningCli {
  child: ChildProcess;
  /** Everything on stderr so far. */
  stderr(): string;
  stdout(): string;
  /** The exit code, once it exits. */
  exited: Promise<number>;
}

/** Start the real `tandem` binary as a child process, without waiting for it. */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): RunningCli {
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'tandem.js'), ...args], {
    env: { ...process.env, TANDEM_DATABASE_URL: undefined, DATABASE_URL: undefined, CI: '1', ...env } as NodeJS.ProcessEnv,
    cwd: projectRoot,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 137 : 1))));
  return { child, stderr: () => err, stdout: () => out, exited };
}

// Waiting for a condition: the one helper of the concurrency tests.
export { waitFor } from '../concurrency/support.js';

/** up = lower(email), down = upper(email): the new version's writes are not all `up` of the old columns. */
export const LOWER_EMAIL = `name: lower_email
operations:
  - alter_column:
      table: users
      column: email
      type: text
      up: lower(email)
      down: upper(email)
`;

/** The migration file in a new temporary directory. */
export async function migrationFile(text = LOWER_EMAIL): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bfc-'));
  const file = path.join(dir, 'lower_email.yaml');
  await writeFile(file, text);
  return { dir, file };
}

/** A database with users(id, email) holding `rows` rows with mixed-case emails. */
export async function seeded(rows: number): Promise<TestDatabase> {
  const db = await createTestDatabase();
  await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100)); INSERT INTO users SELECT g, 'User' || g || '@X.io' FROM generate_series(1, ${rows}) g`);
  return db;
}
