/** The lock an action takes on its table; shown by `tandem plan`, used to reason about stalls. */
export type LockLevel =
  | 'ACCESS EXCLUSIVE'
  | 'SHARE ROW EXCLUSIVE'
  | 'SHARE UPDATE EXCLUSIVE'
  | 'ROW EXCLUSIVE'
  | 'ACCESS SHARE'
  | 'none';

/** One SQL statement an operation needs, returned as data; the executor decides how to run it. */
export interface Action {
  sql: string;
  lock: LockLevel;
  /** Qualified table the lock is on, if any. */
  table?: string;
  /** false for statements PostgreSQL refuses inside a transaction block (CONCURRENTLY). */
  transactional: boolean;
  description: string;
  /** Scans the table (e.g. VALIDATE CONSTRAINT): runs in its own step, never under a lock that blocks traffic. */
  scans?: boolean;
  /**
   * CREATE INDEX CONCURRENTLY of this index: skipped if a valid index of that name exists; an
   * invalid one (left by a failed or killed build) is dropped concurrently first, then rebuilt.
   */
  concurrentIndex?: { schema: string; name: string };
  /** Renames the table: runs after the table's other statements of the same step, which use the old name. */
  renamesTable?: boolean;
}

export interface SqlStep {
  kind: 'sql';
  id: string;
  description: string;
  /** All statements run in one transaction, together with the step's completion record. */
  transactional: boolean;
  actions: Action[];
  /** Run only if one of these start steps ran (else skipped): a raw `down` must not run when its `up` never did. */
  onlyIfStarted?: string[];
}

export interface BackfillStep {
  kind: 'backfill';
  id: string;
  description: string;
  schema: string;
  table: string;
  /** Physical key columns the batches are keyed on (primary key or unique not-null key); [] walks the table by ctid. */
  keyColumns: string[];
  keyTypes: string[];
  /** Column that marks rows already in sync (written through the trigger). */
  markerColumn: string;
  estimatedRows: number;
}

/** Creates the version schema with a view per table as the catalog is when it runs (after raw SQL). */
export interface VersionSchemaStep {
  kind: 'version-schema';
  id: string;
  description: string;
  schema: string;
  versionSchema: string;
}

export type Step = SqlStep | BackfillStep | VersionSchemaStep;

export type Phase = 'start' | 'complete' | 'rollback';

export interface Plan {
  schema: string;
  migration: string;
  versionSchema: string;
  previousVersionSchema: string | null;
  start: Step[];
  complete: Step[];
  rollback: Step[];
}
