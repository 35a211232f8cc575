/**
 * State-schema DDL of the backfill control feature, appended to the core DDL (schema-ddl.ts). Every
 * statement is idempotent (IF NOT EXISTS / OR REPLACE / ADD COLUMN IF NOT EXISTS): `tandem init`
 * and every runner apply it to fresh and to older installs alike.
 */
export const backfillControlDdl: string[] = [];
