/**
 * Tandem's library API: what the `tandem` command does, as functions over a connected `pg.Client`.
 *
 *   import { connect, loadMigrationFile, start, complete } from 'tandem';
 *   const client = await connect(process.env.DATABASE_URL!);
 *   await start(client, await loadMigrationFile('migrations/0042_users.yaml'), { schema: 'public' });
 *   await complete(client);
 *
 * Errors are the classes exported below, each with a stable `code` and the exit code the CLI uses.
 * (The application-side client, `tandem/client`, is a separate entry point.)
 */

// Lifecycle of a migration: plan (changes nothing), start (expand + backfill), complete, rollback.
export { plan, start, complete, rollback, checksum } from './engine/lifecycle.js';
export type { EngineOptions, StartResult } from './engine/lifecycle.js';
export { status } from './engine/status.js';
export type { StatusReport } from './engine/status.js';

// Migration files: load and validate (no database needed), the format's JSON Schema.
export { loadMigrationFile, MIGRATION_LIMITS, parseMigration, parseMigrationText } from './migration/load.js';
export { migrationJsonSchema, operationKinds } from './migration/schema.js';
export type { Migration, Operation, OperationKind, OperationBody, ColumnDef } from './migration/schema.js';

// Plans, as `tandem plan --json` prints them.
export type { Plan, Step, SqlStep, BackfillStep, VersionSchemaStep, Action, LockLevel, Phase } from './plan/types.js';
export type { ExecOptions, Reporter } from './exec/options.js';
export { defaultExecOptions, silentReporter } from './exec/options.js';

// tandem lint: SQL migration files checked for statements that lock or rewrite tables.
export { runLint as lint, lintSql, rules, ruleIds } from './lint/index.js';
export type { LintRunOptions, LintSqlOptions, LintReport, FileResult, Finding } from './lint/index.js';

// Connections and the embedded PostgreSQL.
export { connect, resolveDatabaseUrl, redactUrl } from './db/connection.js';
export { startEmbeddedPostgres, EmbeddedPostgresUnavailableError, EmbeddedPostgresStartError, PG_MAJORS } from './db/embedded.js';
export type { EmbeddedServer, EmbeddedOptions, PgMajor } from './db/embedded.js';

// Errors: every failure is a TandemError with a stable `code` and an `exitCode` (1 failed, 2 invalid input).
// (All of src/errors.ts: TandemError, InvalidInputError, StateError, ConnectionError, RunnerBusyError,
// ExecutionError, LockTimeoutError…, exitCodeOf, codeOf and the code types.)
export * from './errors.js';
