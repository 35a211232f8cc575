import { z } from 'zod';
import { InvalidStoredPlanError } from '../errors.js';
import { TABLE_LOCK_MODES } from '../sql/lock-modes.js';

/**
 * The plan as data: this zod schema is the source of the plan's TypeScript types (src/plan/types.ts
 * re-exports them) and of the check run on a plan read back from `tandem.migrations.plan`. A field
 * added to a step or an action must be added here: parsing keeps only the fields it knows.
 */

/** Bumped when a stored plan of the previous format could no longer be run as it is. */
export const PLAN_FORMAT_VERSION = 1;

/** The lock an action takes on its table; shown by `tandem plan`, used to reason about stalls. */
export const LockLevelSchema = z.enum([...TABLE_LOCK_MODES, 'none']);

/** One SQL statement an operation needs, returned as data; the executor decides how to run it. */
export const ActionSchema = z
  .object({
    sql: z.string(),
    lock: LockLevelSchema,
    /** Qualified table the lock is on, if any. */
    table: z.string().optional(),
    /** false for statements PostgreSQL refuses inside a transaction block (CONCURRENTLY). */
    transactional: z.boolean(),
    description: z.string(),
    /** Scans the table (e.g. VALIDATE CONSTRAINT): runs in its own step, never under a lock that blocks traffic. */
    scans: z.boolean().optional(),
    /**
     * CREATE INDEX CONCURRENTLY of this index: skipped if a valid index of that name exists; an
     * invalid one (left by a failed or killed build) is dropped concurrently first, then rebuilt.
     */
    concurrentIndex: z.object({ schema: z.string(), name: z.string() }).optional(),
    /** Renames the table: runs after the table's other statements of the same step, which use the old name. */
    renamesTable: z.boolean().optional(),
  })
  .strict();

/** Fields every kind of step has. */
const stepBase = {
  id: z.string(),
  description: z.string(),
  /** Removes what the old version needs (complete's point of no return and what follows it, src/plan/complete-order.ts): once it ran, only complete can finish. */
  irreversible: z.boolean().optional(),
};

export const SqlStepSchema = z
  .object({
    kind: z.literal('sql'),
    ...stepBase,
    /** All statements run in one transaction, together with the step's completion record. */
    transactional: z.boolean(),
    actions: z.array(ActionSchema),
    /** Run only if one of these start steps ran (else skipped): a raw `down` must not run when its `up` never did. */
    onlyIfStarted: z.array(z.string()).optional(),
  })
  .strict();

export const BackfillStepSchema = z
  .object({
    kind: z.literal('backfill'),
    ...stepBase,
    schema: z.string(),
    table: z.string(),
    /** Physical key columns the batches are keyed on (primary key or unique not-null key); [] walks the table by ctid. */
    keyColumns: z.array(z.string()),
    keyTypes: z.array(z.string()),
    /** Column that marks rows already in sync (written through the trigger). */
    markerColumn: z.string(),
    estimatedRows: z.number(),
    /** Only check that every row is in sync (complete's first step): fails, changing nothing, if one is not. */
    verifyOnly: z.boolean().optional(),
    /**
     * The migration's `up` composed over the table's stages (src/plan/compose-up.ts), for the
     * set-based backfill: `lateral` is `LATERAL (…) AS __tandem_up` over the row alias
     * `__tandem_row`, with one column per target physical column. Plans stored without it are
     * backfilled through the sync trigger, as before.
     */
    up: z
      .object({ targets: z.array(z.string()), lateral: z.string() })
      .strict()
      .optional(),
  })
  .strict();

/** Creates the version schema with a view per table as the catalog is when it runs (after raw SQL). */
export const VersionSchemaStepSchema = z
  .object({
    kind: z.literal('version-schema'),
    ...stepBase,
    schema: z.string(),
    versionSchema: z.string(),
  })
  .strict();

export const StepSchema = z.discriminatedUnion('kind', [SqlStepSchema, BackfillStepSchema, VersionSchemaStepSchema]);

export const PhaseSchema = z.enum(['start', 'complete', 'rollback']);

export const PlanSchema = z
  .object({
    /** Plans stored before the format was versioned have the same shape: read as version 1. */
    formatVersion: z.literal(PLAN_FORMAT_VERSION).default(PLAN_FORMAT_VERSION),
    schema: z.string(),
    migration: z.string(),
    versionSchema: z.string(),
    previousVersionSchema: z.string().nullable(),
    start: z.array(StepSchema),
    complete: z.array(StepSchema),
    rollback: z.array(StepSchema),
  })
  .strict();

/** Which migration row a stored plan comes from, to say so when it is not valid. */
export interface StoredPlanSource {
  id: string;
  name: string;
  schema_name: string;
}

/**
 * A plan read back from the state schema (a JSON document or its text), checked against the
 * schema before anything runs from it.
 */
export function parseStoredPlan(json: unknown, source: StoredPlanSource): z.infer<typeof PlanSchema> {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json) as unknown;
    } catch (err) {
      throw new InvalidStoredPlanError(source, [`not JSON: ${(err as Error).message}`], { cause: err });
    }
  }
  const parsed = PlanSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(plan)'}: ${i.message}`);
  throw new InvalidStoredPlanError(source, problems, { cause: parsed.error });
}
