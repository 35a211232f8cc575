/**
 * State-schema DDL of the rollout feature, appended to the core DDL (schema-ddl.ts). Every
 * statement is idempotent (IF NOT EXISTS / OR REPLACE / ADD COLUMN IF NOT EXISTS): `tandem init`
 * and every runner apply it to fresh and to older installs alike.
 *
 * tandem.rollouts: one row per target schema, the single source of routing every application
 * instance reads (src/client/rollout-state.ts). While a migration is in progress migration_id is
 * set, old_version/new_version are its two version schemas and `percent` of the keys go to the
 * new one; otherwise migration_id is NULL and every key gets new_version (the latest).
 * Every change to it is announced, on commit, by `NOTIFY tandem_rollout, '<schema>'` sent in the
 * same transaction by the code that changes it (rollout-store.ts; no trigger, so the state schema
 * holds no function besides tandem.use_version). A hand-made UPDATE is learnt by polling.
 * tandem.version_health: what clients counted per version, flushed every few seconds.
 * Application roles need SELECT on the first and INSERT on the second (`tandem grant-client`).
 */
export const ROLLOUT_NOTIFY_CHANNEL = 'tandem_rollout';

export const rolloutDdl: string[] = [
  `CREATE TABLE IF NOT EXISTS tandem.rollouts (
    schema_name text PRIMARY KEY,
    migration_id bigint,
    migration_name text,
    old_version text,
    new_version text NOT NULL,
    percent numeric(5,2) NOT NULL DEFAULT 0 CHECK (percent >= 0 AND percent <= 100),
    managed boolean NOT NULL DEFAULT false,
    salt text NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT current_user
  )`,
  // Installs whose migrations predate this table: the latest finished or active migration of each schema.
  `INSERT INTO tandem.rollouts (schema_name, migration_id, migration_name, old_version, new_version, percent)
   SELECT DISTINCT ON (m.schema_name) m.schema_name,
          CASE WHEN m.phase = 'active' THEN m.id END,
          CASE WHEN m.phase = 'active' THEN m.name END,
          CASE WHEN m.phase = 'active' THEN coalesce(m.previous_version_schema, m.schema_name) END,
          m.version_schema,
          CASE WHEN m.phase = 'active' THEN 0 ELSE 100 END
     FROM tandem.migrations m
    WHERE m.phase IN ('active', 'completed')
    ORDER BY m.schema_name, m.id DESC
   ON CONFLICT (schema_name) DO NOTHING`,
  `CREATE TABLE IF NOT EXISTS tandem.version_health (
    schema_name text NOT NULL,
    version text NOT NULL,
    instance_id text NOT NULL,
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    statements bigint NOT NULL,
    errors bigint NOT NULL,
    errors_by_sqlstate jsonb NOT NULL DEFAULT '{}',
    latency_sum_ms double precision NOT NULL,
    latency_max_ms double precision NOT NULL,
    latency_buckets integer[] NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX IF NOT EXISTS version_health_recent ON tandem.version_health (schema_name, recorded_at)`,
];
