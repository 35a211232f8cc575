/**
 * The benchmark's table, its migration and its workloads. `bench(id, balance, filler, c3 … cN-1)`
 * has N columns; the migration alters `balance` to bigint (a shadow column and a backfill) and
 * adds `note` from `upper(c3)`. The workloads are pgbench-style one-statement transactions.
 */
import { checkNames, parseMigration } from '../../src/migration/load.js';
import type { Migration } from '../../src/migration/schema.js';
import { ident, literal, qualified } from '../../src/sql/ident.js';
import { MARKER_COLUMN, shadowColumn } from '../../src/plan/names.js';

export const TABLE = 'bench';
export const TWIN = 'bench_twin';
/** An untouched copy of the table, measured right before every phase: the machine's drift (other tenants) divides out. */
export const REFERENCE = 'bench_ref';
export const MIGRATION = 'w1';
export const VERSION_SCHEMA = `public_${MIGRATION}`;
const SEQUENCE = 'bench_ins';
export const SHADOW = shadowColumn('balance');

/** The workloads: `update` writes the column the migration alters, `update-other` one no expression reads. */
export const WORKLOADS = ['update', 'update-other', 'insert'] as const;
export type WorkloadKind = (typeof WORKLOADS)[number];

export function textColumns(columns: number): string[] {
  return Array.from({ length: Math.max(columns - 3, 1) }, (_, i) => `c${i + 3}`);
}

export function setupSql(columns: number, rows: number): string[] {
  const texts = textColumns(columns);
  return [
    `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, balance integer NOT NULL, filler text, ${texts.map((c) => `${ident(c)} text`).join(', ')})`,
    `INSERT INTO ${TABLE} SELECT g, g % 1000, repeat('f', 40), ${texts.map((c) => `${literal(`${c}-`)} || g`).join(', ')} FROM generate_series(1, ${rows}) g`,
    `CREATE SEQUENCE ${SEQUENCE} START ${rows + 1}`,
  ];
}

/** The table as the migration leaves it while active (its extra columns filled), with no trigger: the cost of the wider row alone. */
export function referenceSql(): string[] {
  return [`CREATE TABLE ${REFERENCE} AS SELECT * FROM ${TABLE}`, `ALTER TABLE ${REFERENCE} ADD PRIMARY KEY (id)`];
}

export function twinSql(): string[] {
  return [
    `CREATE TABLE ${TWIN} AS SELECT *, balance::bigint AS ${ident(SHADOW)}, upper(c3) AS note, true AS ${ident(MARKER_COLUMN)} FROM ${TABLE}`,
    `ALTER TABLE ${TWIN} ADD PRIMARY KEY (id)`,
  ];
}

export function benchMigration(): Migration {
  const m = parseMigration(
    {
      name: MIGRATION,
      operations: [
        { alter_column: { table: TABLE, column: 'balance', type: 'bigint', up: 'CAST(balance AS bigint)', down: 'CAST(balance AS integer)' } },
        { add_column: { table: TABLE, column: { name: 'note', type: 'text', nullable: true }, up: 'upper(c3)' } },
      ],
    },
    undefined,
  );
  checkNames(m);
  return m;
}

/**
 * One workload's statement on `table`; `balance` is the name of the altered column there (the
 * old one, or the shadow when writing the table directly as the new version). `asTrigger`: an
 * insert that also writes the columns the sync trigger would fill (the twin, the trigger disabled),
 * so that the rows are as wide as with the trigger.
 */
export function workloadSql(kind: WorkloadKind, columns: number, table: string, balance = 'balance', asTrigger = false): string {
  const b = ident(balance);
  if (kind === 'update') return `UPDATE ${table} SET ${b} = ${b} + :v WHERE id = :id`;
  if (kind === 'update-other') return `UPDATE ${table} SET filler = 'g' || :v WHERE id = :id`;
  const texts = textColumns(columns);
  const extra = asTrigger ? { names: `, ${ident(SHADOW)}, note, ${ident(MARKER_COLUMN)}`, values: `, :v, 'C3-NEW', true` } : { names: '', values: '' };
  return (
    `INSERT INTO ${table} (id, ${b}, filler, ${texts.map(ident).join(', ')}${extra.names}) ` +
    `VALUES (nextval(${literal(`public.${SEQUENCE}`)}), :v, 'new', ${texts.map((c) => literal(`${c}-new`)).join(', ')}${extra.values})`
  );
}

export const publicTable = (t: string) => qualified('public', t);
