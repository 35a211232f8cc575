import { addColumnIfMissing } from './add-column-ddl.js';

/**
 * State-schema DDL of the history feature, appended to the core DDL (schema-ddl.ts). Every
 * statement is idempotent (IF NOT EXISTS / OR REPLACE / a column added only when missing): `tandem init`
 * and every runner apply it to fresh and to older installs alike.
 *
 * Each migration row records the file it came from, so that `tandem migrate <dir>` recognises the
 * files already applied (by `migrate` or by `tandem start <file>`) and refuses a changed one:
 *   file_name      the file's name in its directory (no directory part), e.g. 0042_users.yaml;
 *   file_checksum  sha256 (hex) of the file's bytes as they were read (NULL: applied without a file);
 *   baseline       true for `tandem baseline`: the schema as it was found, no file, no DDL on tables.
 * The `checksum` column (of the migration document) stays what start compares on a resume.
 */
export const historyDdl: string[] = [
  addColumnIfMissing('migrations', 'file_name', 'text'),
  addColumnIfMissing('migrations', 'file_checksum', 'text'),
  addColumnIfMissing('migrations', 'baseline', 'boolean NOT NULL DEFAULT false'),
];
