import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { type ParsedSql, parseSqlFile } from '../convert/parse.js';
import { connect, databaseUrlFor, redactUrl } from '../db/connection.js';
import { InvalidInputError } from '../errors.js';
import { ident } from '../sql/ident.js';
import { type TraceReport, traceStatements } from './trace.js';

/**
 * Where a trace runs:
 *  - no --database-url: an embedded PostgreSQL started for the trace, in a scratch database;
 *  - --database-url: that database, inside BEGIN … ROLLBACK (nothing is ever committed);
 *  - --database-url with --setup: a scratch database created on that server and dropped after.
 * The setup file is run first, committed, and not traced.
 */
export interface RunTraceOptions {
  file: string;
  setupFile?: string;
  databaseUrl?: string;
  lockTimeoutMs?: number;
  /** Progress lines (starting the embedded server...), for stderr. */
  log?: (line: string) => void;
}

export interface TraceRun extends TraceReport {
  database: { kind: 'embedded' | 'scratch' | 'given'; url: string };
  setup?: { file: string; statements: number };
}

/** The trace failed before tracing: a setup statement failed. Exit 2: the input is wrong. */
export class SetupError extends InvalidInputError {}

async function runSetup(client: pg.Client, setup: ParsedSql): Promise<void> {
  for (const stmt of setup.statements) {
    try {
      await client.query(stmt.text);
    } catch (err) {
      throw new SetupError(
        `setup statement failed: ${(err as Error).message}`,
        { file: `${setup.source.file}:${stmt.line}:${stmt.col}` },
        'the setup file must run on an empty database (it is committed there, then the file is traced)',
        { cause: err },
      );
    }
  }
}

export async function runTrace(opts: RunTraceOptions): Promise<TraceRun> {
  // Parse everything first: a malformed file changes nothing and starts nothing.
  const parsed = await parseSqlFile(opts.file);
  const setup = opts.setupFile !== undefined ? await parseSqlFile(opts.setupFile) : undefined;
  const traceOpts = opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {};
  const setupInfo = setup ? { setup: { file: setup.source.file, statements: setup.statements.length } } : {};

  if (opts.databaseUrl !== undefined && !setup) {
    const client = await connect(opts.databaseUrl, 'tandem trace');
    try {
      const report = await traceStatements(client, parsed, traceOpts);
      return { ...report, database: { kind: 'given', url: redactUrl(opts.databaseUrl) } };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  let stopServer: (() => Promise<void>) | undefined;
  let serverUrl: string;
  const kind = opts.databaseUrl !== undefined ? 'scratch' : 'embedded';
  if (opts.databaseUrl !== undefined) {
    serverUrl = opts.databaseUrl;
  } else {
    opts.log?.('starting an embedded PostgreSQL for the trace…');
    const { startEmbeddedPostgres } = await import('../db/embedded.js');
    const server = await startEmbeddedPostgres();
    stopServer = () => server.stop();
    serverUrl = server.url;
  }
  const scratch = `tandem_trace_${randomBytes(5).toString('hex')}`;
  let admin: pg.Client | undefined;
  try {
    admin = await connect(serverUrl, 'tandem trace');
    try {
      await admin.query(`CREATE DATABASE ${ident(scratch)}`);
    } catch (err) {
      throw new InvalidInputError(
        `cannot create a scratch database on ${redactUrl(serverUrl)}: ${(err as Error).message}`,
        {},
        'with --setup the trace needs a role that may CREATE DATABASE; without --setup it runs inside a rolled-back transaction on the given database',
        { cause: err },
      );
    }
    const client = await connect(databaseUrlFor(serverUrl, scratch), 'tandem trace');
    try {
      if (setup) await runSetup(client, setup);
      // A scratch database: each statement may also run alone and commit, for exact locks.
      const report = await traceStatements(client, parsed, { ...traceOpts, isolate: true });
      return { ...report, database: { kind, url: kind === 'embedded' ? 'embedded PostgreSQL' : redactUrl(databaseUrlFor(serverUrl, scratch)) }, ...setupInfo };
    } finally {
      await client.end().catch(() => undefined);
    }
  } finally {
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS ${ident(scratch)} WITH (FORCE)`).catch(() => undefined);
      await admin.end().catch(() => undefined);
    }
    await stopServer?.();
  }
}
