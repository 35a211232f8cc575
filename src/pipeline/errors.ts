import { TandemError } from '../errors.js';

/**
 * Refusals of the pipeline verbs (`migrate`, `baseline`, `pull`) about a directory and its history:
 * exit 2, nothing was changed in the database (the state schema included).
 */
export type DirectoryErrorCode =
  /** Two files of the directory give the same migration name. */
  | 'duplicate-migration-name'
  /** An applied file's bytes differ from the ones recorded when it was applied. */
  | 'migration-drift'
  /** A pending file sorts before the last applied one. */
  | 'out-of-order'
  /** The migration in progress on the schema has no file in the directory. */
  | 'in-progress-not-in-directory'
  /** `--expect-one` with more than one pending file. */
  | 'more-than-one-pending'
  /** `--until` names no file of the directory. */
  | 'unknown-migration'
  /** `baseline` on a schema that already has migrations. */
  | 'history-not-empty'
  /** Not a directory, unreadable. */
  | 'invalid-directory';

export class DirectoryError extends TandemError {
  readonly exitCode = 2 as const;
  readonly code: DirectoryErrorCode;
  constructor(
    readonly problem: string,
    readonly hint: string,
    code: DirectoryErrorCode,
    /** Facts for tools reading --json (file names, checksums…). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${problem}\n  hint: ${hint}`);
    this.code = code;
  }
}
