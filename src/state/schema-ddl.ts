/**
 * DDL of the `tandem` state schema. Every statement is idempotent, so `tandem init` can run any
 * number of times. Nothing here needs superuser: a role that owns the database (or has CREATE on
 * it) can run it.
 */
import { backfillControlDdl } from './ddl-backfill-control.js';
import { historyDdl } from './ddl-history.js';
import { rolloutDdl } from './ddl-rollout.js';

export const STATE_SCHEMA = 'tandem';

/**
 * Version of the state schema's shape; 2 added tandem.backfill_skipped; 3 the backfill's controls
 * and slices, the rollout and the history of files (ddl-*.ts). Older installs are upgraded by the same DDL.
 */
export const STATE_VERSION = 3;

export const stateSchemaDdl: string[] = [
  `CREATE SCHEMA IF NOT EXISTS tandem`,
  `CREATE TABLE IF NOT EXISTS tandem.migrations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_name text NOT NULL,
    name text NOT NULL,
    version_schema text NOT NULL,
    previous_version_schema text,
    phase text NOT NULL CHECK (phase IN ('starting', 'active', 'completing', 'completed', 'rolling_back', 'rolled_back')),
    migration jsonb NOT NULL,
    checksum text NOT NULL,
    plan jsonb NOT NULL,
    last_error jsonb,
    created_by text NOT NULL DEFAULT session_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    rolled_back_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- the file it came from (ddl-history.ts adds these to older installs)
    file_name text,
    file_checksum text,
    baseline boolean NOT NULL DEFAULT false
  )`,
  // At most one migration in progress per target schema.
  `CREATE UNIQUE INDEX IF NOT EXISTS migrations_one_in_progress
     ON tandem.migrations (schema_name) WHERE phase NOT IN ('completed', 'rolled_back')`,
  `CREATE UNIQUE INDEX IF NOT EXISTS migrations_name_once
     ON tandem.migrations (schema_name, name) WHERE phase <> 'rolled_back'`,
  `CREATE TABLE IF NOT EXISTS tandem.steps (
    migration_id bigint NOT NULL REFERENCES tandem.migrations (id) ON DELETE CASCADE,
    phase text NOT NULL,
    step_index integer NOT NULL,
    step_id text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    done_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, phase, step_index)
  )`,
  `CREATE TABLE IF NOT EXISTS tandem.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id bigint REFERENCES tandem.migrations (id) ON DELETE CASCADE,
    schema_name text NOT NULL,
    migration_name text,
    phase text NOT NULL,
    step_id text NOT NULL,
    statements text NOT NULL,
    attempt integer NOT NULL DEFAULT 1,
    outcome text NOT NULL CHECK (outcome IN ('ok', 'failed', 'lock_timeout')),
    sqlstate text,
    error text,
    started_at timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    run_by text NOT NULL DEFAULT session_user,
    client text
  )`,
  `CREATE INDEX IF NOT EXISTS audit_log_migration ON tandem.audit_log (migration_id, id)`,
  // One row per table and key range ("slice"); slice 0 covers the whole key space today. A parallel
  // backfill splits the key space into slices, each resuming from its own last_key.
  `CREATE TABLE IF NOT EXISTS tandem.backfill_checkpoints (
    migration_id bigint NOT NULL REFERENCES tandem.migrations (id) ON DELETE CASCADE,
    table_name text NOT NULL,
    slice integer NOT NULL DEFAULT 0,
    key_columns text[] NOT NULL,
    range_start text[],
    range_end text[],
    last_key text[],
    rows_done bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, table_name, slice)
  )`,
  // Keys of rows the backfill skipped because an application transaction held them locked, stored
  // in the same transaction as the batch and its checkpoint: a run that dies before revisiting
  // them leaves them here for the next one (the checkpoint has moved past them).
  `CREATE TABLE IF NOT EXISTS tandem.backfill_skipped (
    migration_id bigint NOT NULL REFERENCES tandem.migrations (id) ON DELETE CASCADE,
    table_name text NOT NULL,
    key text[] NOT NULL,
    PRIMARY KEY (migration_id, table_name, key)
  )`,
  ...backfillControlDdl,
  ...rolloutDdl,
  ...historyDdl,
  `CREATE TABLE IF NOT EXISTS tandem.state_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version integer NOT NULL
  )`,
  `INSERT INTO tandem.state_version (version) VALUES (${STATE_VERSION})
     ON CONFLICT (singleton) DO UPDATE SET version = greatest(tandem.state_version.version, EXCLUDED.version)`,
  // Per-transaction version selection for connection poolers in transaction mode:
  //   SELECT tandem.use_version('public_0042_x');  -- or SET LOCAL tandem.version = '0042_x'
  // sets search_path and tandem.version for the current transaction only.
  `CREATE OR REPLACE FUNCTION tandem.use_version(version_schema text) RETURNS void
     LANGUAGE sql VOLATILE AS $fn$
       SELECT set_config('search_path', quote_ident(version_schema), true),
              set_config('tandem.version', version_schema, true)
     $fn$`,
];

/** The functions of the state schema itself (use_version, the rollout's notify…), as opposed to those a migration creates there. */
export const STATE_FUNCTIONS: string[] = stateSchemaDdl.flatMap((sql) => /CREATE (?:OR REPLACE )?FUNCTION tandem\.(\w+)/i.exec(sql)?.[1] ?? []);
