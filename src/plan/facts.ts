import type pg from 'pg';
import { type CatalogTable, readSchemaInfo, readTables, schemaExists, type SchemaInfo } from '../catalog/read.js';
import { LockTimeoutError } from '../errors.js';
import { retryOnLockConflict } from '../exec/lock-retry.js';
import type { Migration } from '../migration/schema.js';
import { loadScanner } from '../sql/rename-refs.js';
import { versionSchemaName } from './names.js';
import { type GrantRow, readGrants } from './version-schema.js';

/** A table as the catalog describes it; its oid is left out (planning never uses it, and fixtures stay stable). */
export type TableFacts = Omit<CatalogTable, 'oid'>;

/**
 * Everything the planner needs from the database, read once, before planning: plain data
 * (JSON-serialisable, in a stable order), so that planning is a pure function of it and can be
 * tested without a database (test/fixtures/golden/*.facts.json).
 */
export interface PlanFacts {
  schema: string;
  schemaExists: boolean;
  /** The migration's version schema, and whether a schema of that name exists already. */
  versionSchema: string;
  versionSchemaExists: boolean;
  /** Version schema of the last completed migration, kept until this one completes. */
  previousVersionSchema: string | null;
  /** The views of the previous version schema, dropped at complete. */
  previousViews: string[];
  tables: TableFacts[];
  /** Every relation name in the schema (tables, indexes, sequences, views…): they share one namespace. */
  relationNames: string[];
  replicaIdentity: { table: string; type: 'DEFAULT' | 'NOTHING' | 'FULL' | 'INDEX'; index: string | null }[];
  /** Per table: objects that would stop a DROP TABLE (foreign keys from other tables, views). */
  tableDependents: { table: string; dependents: string[] }[];
  /** Per column: objects outside the table that would stop a DROP COLUMN. */
  columnDependents: { table: string; column: string; dependents: string[] }[];
  /** Privileges application roles have on the schema and its tables, granted on the views. */
  grants: GrantRow[];
}

export interface FactsInput {
  schema: string;
  migration: Migration;
  previousVersionSchema: string | null;
  /** lock_timeout of the catalog reads (some catalog functions lock the table they describe). */
  lockTimeoutMs?: number;
  /** Total time the reads retry on lock timeouts before giving up. */
  lockRetryForMs?: number;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function viewsOf(client: pg.Client, schema: string): Promise<string[]> {
  const r = await client.query<{ name: string }>(
    `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'v' ORDER BY 1`,
    [schema],
  );
  return r.rows.map((v) => v.name);
}

/**
 * Read what planning `input.migration` needs, with reads only. Also loads PostgreSQL's scanner
 * (WASM), which planning uses synchronously.
 */
/**
 * Everything the planner needs from the database, read once, in one read-only REPEATABLE READ
 * transaction (so every fact comes from the same snapshot). Some catalog functions take ACCESS
 * SHARE on the table they describe (pg_get_indexdef…): behind a session holding ACCESS EXCLUSIVE
 * they would wait forever, so the reads take the same short lock_timeout as every statement of
 * tandem, are retried with backoff, and give up cleanly (lock-timeout, step "read-catalog").
 * Waiting for ACCESS SHARE queues no application query behind us.
 */
export async function gatherFacts(client: pg.Client, input: FactsInput): Promise<PlanFacts> {
  await loadScanner();
  return retryOnLockConflict(
    async () => {
      await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      try {
        await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(input.lockTimeoutMs ?? 50))}`);
        return await readFacts(client, input);
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
      }
    },
    {
      retryForMs: input.lockRetryForMs ?? 60_000,
      giveUp: ({ attempt, waitedMs, err }) => new LockTimeoutError('read-catalog', attempt, waitedMs, [], { cause: err }),
    },
  );
}

async function readFacts(client: pg.Client, input: FactsInput): Promise<PlanFacts> {
  const { schema, migration, previousVersionSchema } = input;
  const versionSchema = versionSchemaName(schema, migration.versionSchema ?? migration.name);
  const exists = await schemaExists(client, schema);
  const catalog = await readTables(client, schema);
  const info = await readSchemaInfo(client, schema, previousVersionSchema ? [previousVersionSchema] : []);
  return {
    schema,
    schemaExists: exists,
    versionSchema,
    versionSchemaExists: await schemaExists(client, versionSchema),
    previousVersionSchema,
    previousViews: previousVersionSchema ? await viewsOf(client, previousVersionSchema) : [],
    tables: [...catalog.values()].map(({ oid: _oid, ...table }) => table),
    ...schemaInfoFacts(info),
    grants: exists ? await readGrants(client, schema) : [],
  };
}

function schemaInfoFacts(info: SchemaInfo): Pick<PlanFacts, 'relationNames' | 'replicaIdentity' | 'tableDependents' | 'columnDependents'> {
  return {
    relationNames: [...info.relationNames].sort(byText),
    replicaIdentity: [...info.replicaIdentity].map(([table, r]) => ({ table, ...r })).sort((a, b) => byText(a.table, b.table)),
    tableDependents: [...info.dependents].map(([table, d]) => ({ table, dependents: [...d].sort(byText) })).sort((a, b) => byText(a.table, b.table)),
    columnDependents: [...info.columnDependents]
      .map(([key, d]) => {
        // Keys are "table.column", split at the first dot: joined back the same way by schemaInfoOf,
        // the key is the same even when a name contains a dot.
        const dot = key.indexOf('.');
        return { table: key.slice(0, dot), column: key.slice(dot + 1), dependents: [...d].sort(byText) };
      })
      .sort((a, b) => byText(`${a.table}.${a.column}`, `${b.table}.${b.column}`)),
  };
}

/** The facts as the operations read them (src/operations/context.ts). */
export function schemaInfoOf(facts: PlanFacts): SchemaInfo {
  return {
    relationNames: new Set(facts.relationNames),
    replicaIdentity: new Map(facts.replicaIdentity.map(({ table, type, index }) => [table, { type, index }])),
    dependents: new Map(facts.tableDependents.map((d) => [d.table, d.dependents])),
    columnDependents: new Map(facts.columnDependents.map((d) => [`${d.table}.${d.column}`, d.dependents])),
  };
}

export function catalogOf(facts: PlanFacts): Map<string, TableFacts> {
  return new Map(facts.tables.map((t) => [t.name, t]));
}
