import type pg from 'pg';
import { stateSchemaReady } from '../state/store.js';

/**
 * Names of the migrations of `schema` that are in the history (started or finished, not rolled
 * back): the files of a directory that are not pending. Read-only; no state schema, no history.
 */
export async function appliedMigrationNames(client: pg.Client, schema: string): Promise<Set<string>> {
  if (!(await stateSchemaReady(client))) return new Set();
  const r = await client.query<{ name: string }>(`SELECT name FROM tandem.migrations WHERE schema_name = $1 AND phase <> 'rolled_back'`, [schema]);
  return new Set(r.rows.map((x) => x.name));
}
