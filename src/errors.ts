/**
 * Typed errors. `exitCode` 2 means invalid input or usage and the database was not changed;
 * 1 means an operation failed while running (the state records it, `rollback` works from there).
 */
export abstract class TandemError extends Error {
  abstract readonly exitCode: 1 | 2;
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
}

export function formatLocation(loc: InputLocation): string {
  const parts: string[] = [];
  if (loc.file !== undefined) parts.push(loc.file);
  if (loc.operationIndex !== undefined) {
    parts.push(`operations[${loc.operationIndex}]${loc.operation ? ` (${loc.operation})` : ''}`);
  }
  if (loc.field !== undefined) parts.push(`field "${loc.field}"`);
  return parts.join(', ');
}

/** The migration file or command line is wrong; nothing was changed. */
export class InvalidInputError extends TandemError {
  readonly exitCode = 2 as const;
  constructor(
    readonly problem: string,
    readonly location: InputLocation = {},
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    const where = formatLocation(location);
    super(`${where ? `${where}: ` : ''}${problem}${hint ? `\n  hint: ${hint}` : ''}`, options);
  }
}

/** The command cannot run in the current state (another migration active, nothing to complete…). */
export class StateError extends TandemError {
  readonly exitCode = 2 as const;
  constructor(message: string, readonly hint?: string) {
    super(`${message}${hint ? `\n  hint: ${hint}` : ''}`);
  }
}

/** Another runner holds the per-schema advisory lock. */
export class RunnerBusyError extends TandemError {
  readonly exitCode = 1 as const;
  constructor(readonly schema: string, readonly holder: string) {
    super(
      `another tandem runner is working on schema "${schema}" (${holder}).\n` +
        '  hint: wait for it to finish, or pass --wait to queue behind it.',
    );
  }
}

/** A statement failed while a phase was running. */
export class ExecutionError extends TandemError {
  readonly exitCode = 1 as const;
  constructor(
    message: string,
    readonly details: { step?: string; sql?: string; sqlstate?: string; table?: string; column?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A DDL step could not get its lock within the total retry budget. */
export class LockTimeoutError extends TandemError {
  readonly exitCode = 1 as const;
  constructor(
    readonly step: string,
    readonly attempts: number,
    readonly waitedMs: number,
    readonly blockers: string[],
    options?: { cause?: unknown },
  ) {
    super(
      `step "${step}" gave up after ${attempts} attempts (${Math.round(waitedMs)} ms) waiting for a lock; ` +
        `nothing of this step was applied.\n` +
        (blockers.length ? `  blocked by: ${blockers.join('; ')}\n` : '') +
        '  hint: end the blocking transaction (or wait for it), then run the same command again; it resumes here.',
      options,
    );
  }
}

export function exitCodeOf(err: unknown): number {
  return err instanceof TandemError ? err.exitCode : 1;
}
