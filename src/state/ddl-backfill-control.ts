import { addColumnIfMissing } from './add-column-ddl.js';

/**
 * State-schema DDL of the backfill control feature, appended to the core DDL (schema-ddl.ts). Every
 * statement is idempotent (IF NOT EXISTS / OR REPLACE / ADD COLUMN IF NOT EXISTS): `tandem init`
 * and every runner apply it to fresh and to older installs alike.
 *
 * - `backfill_controls`: what an operator asked for from another shell (`tandem backfill
 *   pause|resume|set`), one row per migration; the throttle of every worker reads it between
 *   batches (at most once a second, sooner on NOTIFY tandem_backfill_control).
 * - `backfill_pacing`: what each worker's throttle is doing (per table and slice): its current
 *   batch size and delay, its measured rate, why it backed off. `tandem status` reads it for the
 *   rate and the ETA. Slice -1 is `tandem verify`'s own pacing.
 * - `verify_runs` / `verify_chunks`: `tandem verify`'s progress, one row per checked chunk, so
 *   that an interrupted verify resumes after its last chunk.
 */
export const backfillControlDdl: string[] = [
  `CREATE TABLE IF NOT EXISTS tandem.backfill_controls (
    migration_id bigint PRIMARY KEY REFERENCES tandem.migrations (id) ON DELETE CASCADE,
    paused boolean NOT NULL DEFAULT false,
    batch_size integer CHECK (batch_size > 0),
    delay_ms integer CHECK (delay_ms >= 0),
    target_batch_ms integer CHECK (target_batch_ms > 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT session_user
  )`,
  `CREATE TABLE IF NOT EXISTS tandem.backfill_pacing (
    migration_id bigint NOT NULL REFERENCES tandem.migrations (id) ON DELETE CASCADE,
    table_name text NOT NULL,
    slice integer NOT NULL,
    batch_size integer NOT NULL,
    delay_ms integer NOT NULL,
    rows_per_second double precision NOT NULL DEFAULT 0,
    last_batch_ms double precision,
    rows_done bigint NOT NULL DEFAULT 0,
    paused boolean NOT NULL DEFAULT false,
    backoff_reason text,
    finished boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, table_name, slice)
  )`,
  `CREATE TABLE IF NOT EXISTS tandem.verify_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id bigint NOT NULL REFERENCES tandem.migrations (id) ON DELETE CASCADE,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    run_by text NOT NULL DEFAULT session_user
  )`,
  `CREATE INDEX IF NOT EXISTS verify_runs_migration ON tandem.verify_runs (migration_id, id)`,
  // One row per checked chunk: its key range (range_end NULL = to the end of the table), the
  // checksums of the stored and of the recomputed new columns, and the keys of the rows that differ.
  `CREATE TABLE IF NOT EXISTS tandem.verify_chunks (
    run_id bigint NOT NULL REFERENCES tandem.verify_runs (id) ON DELETE CASCADE,
    table_name text NOT NULL,
    chunk integer NOT NULL,
    range_start text[],
    range_end text[],
    rows bigint NOT NULL,
    stored_checksum text,
    computed_checksum text,
    mismatches bigint NOT NULL DEFAULT 0,
    not_synced bigint NOT NULL DEFAULT 0,
    mismatched_keys jsonb NOT NULL DEFAULT '[]',
    checked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, table_name, chunk)
  )`,
  // Added after the table's first shape (dev installs of the same state version).
  addColumnIfMissing('verify_chunks', 'not_synced', 'bigint NOT NULL DEFAULT 0'),
];
