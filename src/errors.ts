/**
 * Typed errors. `exitCode` 2 means invalid input or usage and the database was not changed;
 * 1 means an operation failed while running (the state records it, `rollback` works from there).
 * Every error has a stable `code` (kebab-case) that tests and tools assert on, never the message.
 */
export abstract class TandemError extends Error {
  abstract readonly exitCode: 1 | 2;
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Where in a migration file a problem is: file, operation index, field path. */
export interface InputLocation {
  file?: string;
  operationIndex?: number;
  operation?: string;
  field?: string;
  /** 1-based line and column in the file, when the problem is in its text (a duplicate key…). */
  line?: number;
  column?: number;
}

export function formatLocation(loc: InputLocation): string {
  const parts: string[] = [];
  if (loc.file !== undefined) parts.push(`${loc.file}${loc.line !== undefined ? `:${loc.line}${loc.column !== undefined ? `:${loc.column}` : ''}` : ''}`);
  else if (loc.line !== undefined) parts.push(`line ${loc.line}${loc.column !== undefined ? `, column ${loc.column}` : ''}`);
  if (loc.operationIndex !== undefined) {
    parts.push(`operations[${loc.operationIndex}]${loc.operation ? ` (${loc.operation})` : ''}`);
  }
  if (loc.field !== undefined) parts.push(`field "${loc.field}"`);
  return parts.join(', ');
}

/**
 * Codes of invalid input. Add one here when a new kind of mistake needs telling apart; the
 * default, `invalid-input`, is for everything else.
 */
export type InputErrorCode =
  | 'invalid-input'
  | 'invalid-file'
  | 'invalid-field'
  | 'invalid-sql'
  | 'invalid-type'
  | 'not-boolean'
  | 'not-immutable'
  | 'aggregate-not-allowed'
  | 'window-not-allowed'
  | 'set-returning-not-allowed'
  | 'subquery-not-allowed'
  | 'collation-not-found'
  | 'opclass-not-found'
  | 'referenced-table-not-found'
  | 'referenced-key-not-unique'
  | 'invalid-storage-parameter'
  | 'invalid-name'
  | 'name-too-long'
  | 'reserved-name'
  | 'schema-not-found'
  | 'table-not-found'
  | 'column-not-found'
  | 'index-not-found'
  | 'constraint-not-found'
  | 'already-exists'
  | 'unsupported'
  | 'usage'
  | 'no-database'
  | 'duplicate-key'
  | 'duplicate-operation'
  | 'limit-exceeded'
  | 'invalid-connection-url'
  | 'port-unavailable';

/** The migration file or command line is wrong; nothing was changed. */
export class InvalidInputError extends TandemError {
  readonly exitCode = 2 as const;
  readonly code: InputErrorCode;
  constructor(
    readonly problem: string,
    readonly location: InputLocation = {},
    readonly hint?: string,
    options?: { cause?: unknown; code?: InputErrorCode },
  ) {
    const where = formatLocation(location);
    super(`${where ? `${where}: ` : ''}${problem}${hint ? `\n  hint: ${hint}` : ''}`, options);
    this.code = options?.code ?? 'invalid-input';
  }
}

export type StateErrorCode =
  | 'invalid-state'
  | 'not-in-progress'
  | 'other-migration-in-progress'
  | 'checksum-mismatch'
  | 'already-applied'
  | 'not-started'
  | 'rolling-back'
  | 'completing'
  | 'version-schema-exists'
  /** `complete` while a managed rollout routes less than 100% of keys to the new version (see docs/client.md). */
  | 'rollout-incomplete';

/** The command cannot run in the current state (another migration active, nothing to complete…). */
export class StateError extends TandemError {
  readonly exitCode = 2 as const;
  readonly code: StateErrorCode;
  constructor(
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown; code?: StateErrorCode },
  ) {
    super(`${message}${hint ? `\n  hint: ${hint}` : ''}`, options);
    this.code = options?.code ?? 'invalid-state';
  }
}

/** The database could not be reached: not invalid input, the command may work when retried. */
export class ConnectionError extends TandemError {
  readonly exitCode = 1 as const;
  readonly code = 'connection-failed';
  constructor(
    message: string,
    readonly details: { target: string; sqlstate?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Another runner holds the per-schema advisory lock. */
export class RunnerBusyError extends TandemError {
  readonly exitCode = 1 as const;
  readonly code = 'runner-busy';
  constructor(
    readonly schema: string,
    readonly holder: string,
  ) {
    super(`another tandem runner is working on schema "${schema}" (${holder}).\n` + '  hint: wait for it to finish, or pass --wait to queue behind it.');
  }
}

/** A statement failed while a phase was running. */
export class ExecutionError extends TandemError {
  readonly exitCode = 1 as const;
  readonly code: string;
  constructor(
    message: string,
    readonly details: { step?: string; sql?: string; sqlstate?: string; table?: string; column?: string } = {},
    options?: { cause?: unknown; code?: string },
  ) {
    super(message, options);
    this.code = options?.code ?? 'execution-failed';
  }
}

/** A session that blocked a waiting statement (from pg_blocking_pids), as seen while it blocked. */
export interface BlockingSession {
  pid: number;
  user: string | null;
  application: string | null;
  state: string | null;
  /** Seconds its transaction had been open, when it is in one. */
  transactionAgeS: number | null;
  /** Its current or last statement, shortened. */
  query: string | null;
  /** The modes it holds on the object the waiting statement wants (e.g. AccessShareLock). */
  modes: string | null;
  /** The object waited for (a relation name), when it is one. */
  waitedFor: string | null;
}

export function formatBlockingSession(b: BlockingSession): string {
  const facts = [
    b.user !== null ? `user ${b.user}` : undefined,
    b.application ? `application "${b.application}"` : undefined,
    b.state ?? undefined,
    b.transactionAgeS !== null ? `transaction open ${b.transactionAgeS}s` : undefined,
    b.modes ? `holds ${b.modes}${b.waitedFor ? ` on ${b.waitedFor}` : ''}` : undefined,
    b.query ? `last query: ${b.query.replace(/\s+/g, ' ')}` : undefined,
  ].filter((f): f is string => f !== undefined);
  return `pid ${b.pid} (${facts.join(', ')})`;
}

/** A DDL step could not get its lock within the total retry budget. */
export class LockTimeoutError extends TandemError {
  readonly exitCode = 1 as const;
  readonly code = 'lock-timeout';
  constructor(
    readonly step: string,
    readonly attempts: number,
    readonly waitedMs: number,
    /** The sessions that blocked its last attempts (not merely every lock holder on the table). */
    readonly blockers: BlockingSession[],
    options?: { cause?: unknown },
  ) {
    super(
      `step "${step}" gave up after ${attempts} attempts (${Math.round(waitedMs)} ms) waiting for a lock; ` +
        `nothing of this step was applied.\n` +
        (blockers.length ? `  blocked by: ${blockers.map(formatBlockingSession).join('; ')}\n` : '') +
        '  hint: end the blocking transaction (or wait for it), then run the same command again; it resumes here.',
      options,
    );
  }
}

/**
 * The plan stored with a migration (tandem.migrations.plan) does not have the shape this version
 * of tandem runs: written by another version, or edited by hand. Nothing was run from it.
 */
export class InvalidStoredPlanError extends TandemError {
  readonly exitCode = 1 as const;
  readonly code = 'invalid-stored-plan';
  readonly migrationId: string;
  readonly migration: string;
  readonly schema: string;
  constructor(
    row: { id: string; name: string; schema_name: string },
    readonly problems: string[],
    options?: { cause?: unknown },
  ) {
    super(
      `the stored plan of migration "${row.name}" on schema "${row.schema_name}" (tandem.migrations id ${row.id}) is not valid: ` +
        `${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; … (${problems.length} problems)` : ''}\n` +
        '  hint: it was written by another version of tandem or changed by hand; finish or roll back the migration with the version ' +
        "of tandem that started it, or restore that row's plan column. Nothing was run from it.",
      options,
    );
    this.migrationId = row.id;
    this.migration = row.name;
    this.schema = row.schema_name;
  }
}

export function exitCodeOf(err: unknown): number {
  return err instanceof TandemError ? err.exitCode : 1;
}

/** The code of any error: a TandemError's own, a PostgreSQL error's SQLSTATE, else `internal`. */
export function codeOf(err: unknown): string {
  if (err instanceof TandemError) return err.code;
  const sqlstate = (err as { code?: unknown } | null)?.code;
  return typeof sqlstate === 'string' && /^[0-9A-Z]{5}$/.test(sqlstate) ? `sqlstate-${sqlstate}` : 'internal';
}
