// @tier slow
/**
 * tandem/client/prisma with the real Prisma 7 (the Rust-free query compiler, through its
 * node-postgres driver adapter @prisma/adapter-pg) on a real database. Two PrismaClients are
 * generated for the test — one per version's shape: `name` in `public`, `display_name` in the
 * new version schema — and each is built on a PrismaPg adapter whose `schema` is its version
 * schema (Prisma qualifies every table with it). Slow tier: `prisma generate` takes seconds.
 *
 * `prisma generate` wants the schema-engine binary (which it does not use) and would download
 * it; PRISMA_SCHEMA_ENGINE_BINARY pointing at a stub that fails loudly keeps it offline.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PrismaPg } from '@prisma/adapter-pg';
import { type PrismaClientLike, prismaRouter, type PrismaTransactionLike } from '../../src/client/adapters/prisma.js';
import { projectRoot } from '../helpers/cli.js';
import { type AdapterEnv, NEW_VERSION, OLD_VERSION, renameInProgress } from './support.js';

const run = promisify(execFile);

// Inside node_modules, so that the generated clients resolve @prisma/client from the project.
const workDir = path.join(projectRoot, 'node_modules', '.cache', `tandem-prisma-test-${process.pid}`);

const schemaFile = (output: string, field: string) => `generator client {
  provider = "prisma-client"
  output   = "./${output}"
}
datasource db {
  provider = "postgresql"
}
model users {
  id ${' '.repeat(field.length - 2)}BigInt @id
  ${field} String
}
`;

interface UsersDelegate {
  findUnique(args: { where: { id: bigint } }): Promise<Record<string, unknown> | null>;
  create(args: { data: Record<string, unknown> }): Promise<Record<string, unknown>>;
  update(args: { where: { id: bigint }; data: Record<string, unknown> }): Promise<Record<string, unknown>>;
}
type Tx = PrismaTransactionLike & { users: UsersDelegate };
type ClientClass = new (opts: { adapter: PrismaPg }) => PrismaClientLike<Tx>;

async function generate(name: string, field: string): Promise<ClientClass> {
  await writeFile(path.join(workDir, `${name}.prisma`), schemaFile(name, field));
  await run(process.execPath, [path.join(projectRoot, 'node_modules', 'prisma', 'build', 'index.js'), 'generate', '--schema', `${name}.prisma`], {
    cwd: workDir,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: path.join(workDir, 'no-schema-engine'), PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
  });
  return ((await import(pathToFileURL(path.join(workDir, name, 'client.ts')).href)) as { PrismaClient: ClientClass }).PrismaClient;
}

describe('tandem/client/prisma', () => {
  let env: AdapterEnv;
  let OldClient: ClientClass;
  let NewClient: ClientClass;
  before(async () => {
    await mkdir(workDir, { recursive: true });
    const stub = path.join(workDir, 'no-schema-engine');
    await writeFile(stub, '#!/bin/sh\necho "tandem test: no schema engine here (prisma generate does not need it)" >&2\nexit 1\n');
    await chmod(stub, 0o755);
    [env, OldClient, NewClient] = await Promise.all([renameInProgress(), generate('old', 'name'), generate('new', 'display_name')]);
  });
  after(async () => {
    await env?.drop();
    await rm(workDir, { recursive: true, force: true });
  });

  test('an interactive $transaction on the key’s version, through that version’s client; health per version with the SQLSTATE', async () => {
    const { pool, key, health } = env;
    const errors: unknown[] = [];
    const made: string[] = [];
    const routed = await prismaRouter<Tx>({
      pool,
      schema: 'public',
      pollIntervalMs: 60_000,
      health: { flushIntervalMs: 0, instanceId: 'prisma' },
      onError: (e) => errors.push(e),
      clientFor: (version) => {
        made.push(version);
        const adapter = new PrismaPg(pool, { schema: version });
        return version === NEW_VERSION ? new NewClient({ adapter }) : new OldClient({ adapter });
      },
    });
    try {
      const onNew = await routed.transaction(key.new, async (tx, version) => {
        await tx.users.create({ data: { id: 401n, display_name: 'prisma new' } });
        const tv = (await (tx as unknown as { $queryRawUnsafe(q: string): Promise<{ tv: string }[]> }).$queryRawUnsafe(`SELECT current_setting('tandem.version') AS tv`))[0]!.tv;
        return { version, tv, row: await tx.users.findUnique({ where: { id: 1n } }) };
      });
      assert.deepEqual(onNew, { version: NEW_VERSION, tv: NEW_VERSION, row: { id: 1n, display_name: 'user 1' } });
      const onOld = await routed.transaction(key.old, async (tx, version) => ({ version, row: await tx.users.findUnique({ where: { id: 401n } }) }));
      assert.deepEqual(onOld, { version: OLD_VERSION, row: { id: 401n, name: 'prisma new' } });
      await assert.rejects(
        routed.transaction(key.new, (tx) => tx.users.update({ where: { id: 6n }, data: { display_name: '' } })),
        (e: { meta?: { driverAdapterError?: { cause?: { code?: string } } } }) => e.meta?.driverAdapterError?.cause?.code === '23514',
      );
      // One client per version, made once.
      await routed.transaction(key.new, async () => undefined);
      assert.deepEqual(made.sort(), [OLD_VERSION, NEW_VERSION].sort());

      await routed.core.flushHealth();
      assert.deepEqual(errors, []);
      assert.deepEqual(await health('prisma', NEW_VERSION), { statements: 3, errors: 1, bySqlstate: { '23514': 1 } });
      assert.deepEqual(await health('prisma', OLD_VERSION), { statements: 1, errors: 0, bySqlstate: {} });
    } finally {
      await routed.close();
    }
  });
});
