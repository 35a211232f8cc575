import type pg from 'pg';
import type { TransactionStmt } from 'libpg-query';
import { parseSqlFile, type SqlStatement } from '../convert/parse.js';
import { InvalidInputError, LockTimeoutError, StateError } from '../errors.js';
import { retryOnLockConflict } from '../exec/lock-retry.js';
import { withRunnerLock } from '../exec/runner-lock.js';
import { literal } from '../sql/ident.js';
import { inProgress, stateSchemaReady } from '../state/store.js';
import { tablesNamed, tablesWithTypeChanges, viewRebuildSql } from './view-rebuild.js';

/**
 * `tandem exec <file.sql>`: plain SQL run beside Tandem's version schemas, in one transaction.
 * When the SQL changes the type of columns, the version views over those tables are dropped
 * before it and created again after it (src/pipeline/view-rebuild.ts), so PostgreSQL's "cannot
 * alter type of a column used by a view or rule" does not stop it and no version loses a view.
 *
 * It takes the schema's runner lock (no `start`/`complete`/`rollback` runs meanwhile), and it
 * refuses, before changing anything, SQL that names a table the migration in progress changes:
 * that migration's shadow columns, sync trigger, backfill and stored plan were made for the
 * table as it was, and complete would swap in a column the SQL no longer matches. SQL that names
 * none of them runs (both versions' views of its tables are rebuilt alike). Complete or roll back
 * first, or put the change in a migration.
 */

export interface ExecSqlOptions {
  schema: string;
  lockTimeoutMs: number;
  lockRetryForMs: number;
  wait: boolean;
}

export interface ExecSqlResult {
  file: string;
  schema: string;
  statements: number;
  /** Tables whose column types the SQL changes. */
  typeChangedTables: string[];
  /** The version views dropped and created again, as schema.view. */
  rebuiltViews: string[];
  attempts: number;
  durationMs: number;
}

/** Statements PostgreSQL does not run inside a transaction block, or that end it. */
function outsideTransaction(s: SqlStatement): string | undefined {
  const node = s.node as unknown as Record<string, Record<string, unknown> | undefined>;
  if (node['TransactionStmt']) return `transaction control (${(node['TransactionStmt'] as TransactionStmt).kind ?? ''})`;
  if (node['IndexStmt']?.['concurrent'] || node['DropStmt']?.['concurrent'] || node['ReindexStmt']) return 'CONCURRENTLY / REINDEX';
  if (node['VacuumStmt']) return 'VACUUM / ANALYZE';
  if (node['CreatedbStmt'] || node['DropdbStmt'] || node['AlterSystemStmt'] || node['CreateTableSpaceStmt'] || node['DropTableSpaceStmt']) return 'database-level';
  return undefined;
}

function refuseNonTransactional(file: string, statements: readonly SqlStatement[]): void {
  for (const s of statements) {
    const why = outsideTransaction(s);
    if (why === undefined) continue;
    throw new InvalidInputError(
      `${why}: tandem exec runs the whole file in one transaction, and this statement cannot run in one`,
      { file, line: s.line, column: s.col },
      'remove it from the file: run a CONCURRENTLY statement or VACUUM directly (they do not conflict with version views), or as a create_index migration; leave BEGIN/COMMIT out',
      { code: 'unsupported' },
    );
  }
}

/** Tables an operation of a stored migration names (table, create/drop/rename names). */
function migrationTables(migration: unknown): Set<string> {
  const out = new Set<string>();
  const ops = (migration as { operations?: unknown[] } | null)?.operations ?? [];
  for (const op of ops) {
    for (const [kind, body] of Object.entries(op as Record<string, Record<string, unknown>>)) {
      for (const key of ['table', 'from', 'to', 'name'] as const) {
        const v = body?.[key];
        if (typeof v !== 'string') continue;
        if (key === 'table' || kind.endsWith('_table')) out.add(v);
      }
    }
  }
  return out;
}

async function refuseTablesOfActiveMigration(client: pg.Client, schema: string, named: readonly string[]): Promise<void> {
  if (!(await stateSchemaReady(client))) return;
  const active = await inProgress(client, schema);
  if (!active) return;
  const theirs = migrationTables(active.migration);
  const shared = named.filter((t) => theirs.has(t));
  if (shared.length === 0) return;
  throw new StateError(
    `migration ${active.name} is in progress on schema "${schema}" (${active.phase}) and changes ${shared.map((t) => `"${t}"`).join(', ')}, which this SQL names; nothing was run`,
    'run `tandem complete` (or `tandem rollback`) first, then `tandem exec` again; or put the change into a migration',
    { code: 'other-migration-in-progress' },
  );
}

/** The version views the rebuild will drop and create again (for the report; the DO block finds them itself). */
async function viewsToRebuild(client: pg.Client, schema: string, tables: readonly string[]): Promise<string[]> {
  if (tables.length === 0 || !(await stateSchemaReady(client))) return [];
  const r = await client.query<{ view: string }>(
    `SELECT DISTINCT n.nspname || '.' || c.relname AS view
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_rewrite r ON r.ev_class = c.oid
       JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
       JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
      WHERE c.relkind = 'v' AND tn.nspname = $1 AND t.relname = ANY ($2) AND t.oid <> c.oid
        AND n.nspname IN (SELECT version_schema FROM tandem.migrations WHERE schema_name = $1 AND phase <> 'rolled_back')
      ORDER BY 1`,
    [schema, tables],
  );
  return r.rows.map((row) => row.view);
}

async function inTransaction(client: pg.Client, lockTimeoutMs: number, sql: string, auditSql: string | undefined): Promise<void> {
  await client.query('BEGIN');
  try {
    // Every lock the SQL takes waits at most lock_timeout: a query queued behind it waits no longer.
    await client.query(`SET LOCAL lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
    await client.query(sql);
    if (auditSql) await client.query(auditSql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function auditStatement(schema: string, file: string, sql: string, attempt: number, durationMs: number): string {
  return (
    `INSERT INTO tandem.audit_log (schema_name, phase, step_id, statements, attempt, outcome, started_at, duration_ms, client) ` +
    `VALUES (${literal(schema)}, 'exec', ${literal(`exec:${file}`)}, ${literal(sql)}, ${Math.trunc(attempt)}, 'ok', now(), ${durationMs}, 'tandem exec')`
  );
}

export async function execSqlFile(client: pg.Client, file: string, opts: ExecSqlOptions): Promise<ExecSqlResult> {
  const parsed = await parseSqlFile(file);
  if (parsed.statements.length === 0) throw new InvalidInputError('the file has no SQL statement', { file }, undefined, { code: 'invalid-file' });
  refuseNonTransactional(file, parsed.statements);
  const sql = parsed.source.text;
  const typeChangedTables = tablesWithTypeChanges(parsed.statements, opts.schema);
  const toRun = typeChangedTables.length ? viewRebuildSql(opts.schema, typeChangedTables, sql) : sql;
  return withRunnerLock(client, opts.schema, opts.wait, async () => {
    await refuseTablesOfActiveMigration(client, opts.schema, tablesNamed(parsed.statements, opts.schema));
    const rebuiltViews = await viewsToRebuild(client, opts.schema, typeChangedTables);
    const audit = await stateSchemaReady(client);
    const began = performance.now();
    let attempts = 0;
    await retryOnLockConflict(
      async (n) => {
        attempts = n;
        await inTransaction(client, opts.lockTimeoutMs, toRun, audit ? auditStatement(opts.schema, file, sql, n, performance.now() - began) : undefined);
      },
      {
        retryForMs: opts.lockRetryForMs,
        giveUp: (f) => new LockTimeoutError(`exec ${file}`, f.attempt, f.waitedMs, [], { cause: f.err }),
      },
    );
    return { file, schema: opts.schema, statements: parsed.statements.length, typeChangedTables, rebuiltViews, attempts, durationMs: Math.round(performance.now() - began) };
  });
}
