import type pg from 'pg';
import { isSetBased, keyedSql } from '../exec/backfill-sql.js';
import { chunkCheckSql } from '../exec/verify-sql.js';
import type { Action, BackfillStep, Plan, SqlStep } from '../plan/types.js';
import { syntheticColumns } from '../rehearse/columns.js';
import { createTableSql, indexOnTable, type SchemaSource, standaloneIndexes, type TableSource } from '../rehearse/schema-copy.js';
import { columnPlan, insertSql } from '../rehearse/synthetic.js';
import { ident, qualified } from '../sql/ident.js';
import type { EstimateFacts, TableStats } from './facts.js';

/**
 * A short measurement on this server of what the plan's slow steps do per row, on a scratch copy
 * of each table the plan backfills, indexes or validates: the same columns and indexes, filled
 * with `sampleRows` synthetic rows like the live ones (src/rehearse/synthetic.ts), the plan's own
 * shadow and marker columns added, then
 *   - the backfill's own batch statement (src/exec/backfill-sql.ts keyedSql) run batch after
 *     batch over the copy (its checkpoint and skipped-keys tables are TEMP stand-ins),
 *   - each index the plan builds, built on the copy (not concurrently),
 *   - a sequential scan (what VALIDATE CONSTRAINT and complete's sync check do).
 * All of it inside one transaction per table that is rolled back: nothing is left in the
 * database, nothing is committed. The copy is made from the catalog and filled with generated
 * rows, so no lock is held on the live table (a copy of its rows would hold ACCESS SHARE on it
 * for the whole calibration, and an ALTER queued behind that would stall the application).
 * Without CREATE on the target schema the copy is a TEMP table (no WAL: the rate is optimistic).
 */

export interface TableCalibration {
  table: string;
  sampleRows: number;
  batchSize: number;
  /** Seconds the backfill's batches took over the sample; null when the plan does not backfill the table. */
  backfillSeconds: number | null;
  /** What was timed: the backfill's own batch statement, or (no composed `up`, no key, or `up` failing on the synthetic rows) a plain UPDATE of the same columns. */
  backfillMethod: 'batch-statement' | 'plain-update' | null;
  /** Batches that took. */
  batches: number;
  /** Seconds of the final sweep over the sample (every row in sync: a walk of the key). */
  sweepSeconds: number | null;
  /** Per index the plan builds on the table (key: the action's SQL), seconds to build it on the sample. */
  indexSeconds: Record<string, number>;
  /** Seconds of a sequential scan of the sample. */
  scanSeconds: number;
  /** Seconds of `tandem verify`'s check (every row against `up`, which complete runs first) over the sample; null without a set-based backfill. */
  verifySeconds: number | null;
  /** What was measured, and what could not be. */
  notes: string[];
}

export interface Calibration {
  serverVersion: string;
  /** Median round trip of a trivial statement. */
  roundTripMs: number;
  /** What a commit that flushes WAL costs on top of a round trip. */
  commitMs: number;
  tables: TableCalibration[];
  /** Wall time of the whole calibration. */
  seconds: number;
  /** Where the copies were made. */
  copies: 'schema' | 'temp';
  /** Tables that could not be measured, and why. */
  failures: string[];
}

export interface CalibrationInput {
  schema: string;
  plan: Plan;
  facts: EstimateFacts;
  source: SchemaSource;
  batchSize: number;
  /** Time to aim the backfill measurement of one table at (seconds); default 0.6. */
  targetSeconds?: number;
  /** Largest sample (rows); default 200,000. */
  maxSampleRows?: number;
}

const now = () => performance.now();

/** The tables worth measuring: those with a backfill, an index build or a scan in the plan, and rows. */
export function tablesToCalibrate(plan: Plan, facts: EstimateFacts): string[] {
  const names = new Set<string>();
  for (const step of [...plan.start, ...plan.complete]) {
    if (step.kind === 'backfill') names.add(step.table);
    if (step.kind === 'sql') for (const a of step.actions) if (slowAction(a) && a.table) names.add(unqualify(a.table, plan.schema));
  }
  return [...names].filter((n) => (facts.tables.find((t) => t.table === n)?.rows ?? 0) > 0).sort();
}

/** CREATE INDEX (concurrently) or a scan such as VALIDATE CONSTRAINT: the actions whose time grows with the table. */
export function slowAction(a: Action): boolean {
  return a.concurrentIndex !== undefined || a.scans === true || /^CREATE (UNIQUE )?INDEX\b/.test(a.sql);
}

/** `"public"."users"` → `users` when it is in `schema`. */
export function unqualify(table: string, schema: string): string {
  const prefix = `${ident(schema)}.`;
  const rest = table.startsWith(prefix) ? table.slice(prefix.length) : table;
  return rest.startsWith('"') ? rest.slice(1, -1).replace(/""/g, '"') : rest;
}

export async function calibrate(client: pg.Client, input: CalibrationInput): Promise<Calibration> {
  const t0 = now();
  const roundTripMs = await medianMs(client, 'SELECT 1', 5);
  // Without the TEMP privilege the commit is not timed (counted as 0).
  const commitMs = await measureCommit(client).catch(() => 0);
  const tables: TableCalibration[] = [];
  const failures: string[] = [];
  let copies: Calibration['copies'] = 'schema';
  for (const name of tablesToCalibrate(input.plan, input.facts)) {
    const table = input.source.tables.find((t) => t.name === name);
    const stats = input.facts.tables.find((t) => t.table === name);
    if (!table || !stats) continue;
    try {
      const r = await calibrateTable(client, input, table, stats);
      if (r.temp) copies = 'temp';
      tables.push(r.result);
    } catch (err) {
      // A table that cannot be measured (no TEMP privilege either, a type the copy cannot make…)
      // leaves its steps without an estimate rather than failing the plan.
      failures.push(`${name}: not measured (${(err as Error).message})`);
    }
  }
  return { serverVersion: input.facts.serverVersion, roundTripMs, commitMs, tables, seconds: (now() - t0) / 1000, copies, failures };
}

async function medianMs(client: pg.Client, sql: string, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await client.query(sql);
    times.push(now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

/**
 * What the WAL flush of a commit costs, with TEMP objects only: creating a temporary table writes
 * catalog WAL, so its COMMIT waits for the flush as a backfill batch's does; the same transaction
 * rolled back does the same work without the flush. The table is private to this session and
 * gone at once.
 */
async function measureCommit(client: pg.Client): Promise<number> {
  const diffs: number[] = [];
  for (let i = 0; i < 3; i++) {
    let t = now();
    await client.query('BEGIN; CREATE TEMP TABLE tandem_calibration_commit (); ROLLBACK');
    const rolledBack = now() - t;
    t = now();
    await client.query('BEGIN; CREATE TEMP TABLE tandem_calibration_commit (); COMMIT');
    const committed = now() - t;
    await client.query('DROP TABLE pg_temp.tandem_calibration_commit');
    diffs.push(committed - rolledBack);
  }
  return Math.max(0, diffs.sort((a, b) => a - b)[1]!);
}

/** One table: a first sample, and a bigger one when the first was too quick to time well. */
async function calibrateTable(client: pg.Client, input: CalibrationInput, table: TableSource, stats: TableStats): Promise<{ result: TableCalibration; temp: boolean }> {
  const target = input.targetSeconds ?? 0.6;
  const max = Math.min(stats.rows, input.maxSampleRows ?? 200_000);
  let rows = Math.min(max, Math.max(input.batchSize * 4, 5_000));
  let r = await measureSample(client, input, table, stats, rows);
  const took = r.result.backfillSeconds ?? r.result.scanSeconds * 20;
  if (rows < max && took < target / 2) {
    rows = Math.min(max, Math.round(rows * Math.min(20, target / Math.max(took, 0.005))));
    r = await measureSample(client, input, table, stats, rows);
  }
  // Once more at the same size, keeping the faster of the two per measurement: a short burst on a
  // busy server is slowed by whatever else runs then; the faster run is the nearer one to the rate
  // a long backfill averages to.
  const again = await measureSample(client, input, table, stats, rows);
  return { temp: r.temp || again.temp, result: fasterOf(r.result, again.result) };
}

function fasterOf(a: TableCalibration, b: TableCalibration): TableCalibration {
  const min = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.min(x, y));
  const backfillFromB = a.backfillSeconds !== null && b.backfillSeconds !== null && b.backfillSeconds < a.backfillSeconds;
  const indexSeconds: Record<string, number> = { ...a.indexSeconds };
  for (const [k, v] of Object.entries(b.indexSeconds)) indexSeconds[k] = Math.min(v, indexSeconds[k] ?? v);
  return {
    ...a,
    ...(backfillFromB ? { backfillSeconds: b.backfillSeconds, batches: b.batches, sweepSeconds: b.sweepSeconds, backfillMethod: b.backfillMethod } : {}),
    indexSeconds,
    scanSeconds: Math.min(a.scanSeconds, b.scanSeconds),
    verifySeconds: min(a.verifySeconds, b.verifySeconds),
    notes: [...new Set([...a.notes, ...b.notes])],
  };
}

async function measureSample(
  client: pg.Client,
  input: CalibrationInput,
  table: TableSource,
  stats: TableStats,
  rows: number,
): Promise<{ result: TableCalibration; temp: boolean }> {
  const notes: string[] = [];
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL statement_timeout = '60s'`);
    await client.query(`SET LOCAL lock_timeout = '100ms'`);
    const { copy, temp } = await createCopy(client, input, table);
    if (temp) notes.push('no CREATE privilege on the schema: measured on a TEMP table (no WAL), an optimistic rate');
    await fillCopy(client, input, table, stats, copy, rows, notes);
    await addPlanColumns(client, input.plan, table.name, input.schema, copy, notes);
    await client.query(`ANALYZE ${copy.qualified}`);
    const backfill = input.plan.start.find((s): s is BackfillStep => s.kind === 'backfill' && s.table === table.name && !s.verifyOnly);
    const measured = backfill ? await measureBackfillSafely(client, backfill, copy, input.batchSize, notes) : undefined;
    const scanSeconds = await timed(client, `SELECT count(*) FROM ${copy.qualified} WHERE ctid IS NOT NULL`);
    const verifySeconds = backfill ? await measureVerify(client, backfill, copy) : null;
    const indexSeconds = await measureIndexes(client, input.plan, input.schema, table.name, copy.qualified, notes);
    return {
      temp,
      result: {
        table: table.name,
        sampleRows: rows,
        batchSize: input.batchSize,
        backfillSeconds: measured?.seconds ?? null,
        backfillMethod: measured?.method ?? null,
        batches: measured?.batches ?? 0,
        sweepSeconds: measured?.sweepSeconds ?? null,
        indexSeconds,
        scanSeconds,
        verifySeconds,
        notes,
      },
    };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

interface Copy {
  schema: string;
  name: string;
  qualified: string;
}

/** The copy's columns, in the target schema (WAL-logged like the table), else as a TEMP table. */
async function createCopy(client: pg.Client, input: CalibrationInput, table: TableSource): Promise<{ copy: Copy; temp: boolean }> {
  const name = `_tandem_calibration_${process.pid}`;
  await client.query('SAVEPOINT tandem_copy');
  try {
    const copy = { schema: input.schema, name, qualified: qualified(input.schema, name) };
    await client.query(createTableSql(table, copy.qualified, { serverValues: false }));
    return { copy, temp: false };
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    await client.query('ROLLBACK TO SAVEPOINT tandem_copy');
    await client.query(createTableSql(table, `pg_temp.${ident(name)}`, { serverValues: false }).replace(/^CREATE TABLE/, 'CREATE TEMP TABLE'));
    // The session's temporary schema exists once it holds a table: its name qualifies the copy.
    const schema = (await client.query<{ s: string }>(`SELECT nspname::text AS s FROM pg_namespace WHERE oid = pg_my_temp_schema()`)).rows[0]!.s;
    return { copy: { schema, name, qualified: qualified(schema, name) }, temp: true };
  }
}

/** Synthetic rows like the live ones, then the table's keys and indexes (the backfill maintains them all). */
async function fillCopy(client: pg.Client, input: CalibrationInput, table: TableSource, stats: TableStats, copy: Copy, rows: number, notes: string[]): Promise<void> {
  const columns = syntheticColumns({
    table,
    source: input.source,
    statsOf: (t) => input.facts.tables.find((s) => s.table === t),
    rowsOf: () => stats.rows,
    serverValues: false,
    followForeignKeys: false,
  });
  const plans = columns.map((c) => columnPlan(c, stats.rows));
  for (const p of plans) if (p.note) notes.push(`${p.column}: ${p.note}`);
  await client.query(insertSql(copy.qualified, plans, 0, rows));
  for (const c of table.constraints.filter((x) => x.type === 'p' || x.type === 'u')) {
    await savepointed(client, `ALTER TABLE ${copy.qualified} ADD ${c.definition}`, notes, `key ${c.name}`);
  }
  for (const i of standaloneIndexes(table)) {
    const sql = indexOnTable(i.definition, copy.qualified);
    if (sql) await savepointed(client, sql, notes, `index ${i.name}`);
  }
}

/** The plan's ADD COLUMN statements of this table (shadow and marker columns), on the copy. */
async function addPlanColumns(client: pg.Client, plan: Plan, tableName: string, schema: string, copy: Copy, notes: string[]): Promise<void> {
  const live = qualified(schema, tableName);
  const head = `ALTER TABLE ${live} ADD COLUMN `;
  for (const step of plan.start) {
    if (step.kind !== 'sql') continue;
    for (const a of (step as SqlStep).actions) {
      if (a.table === live && a.sql.startsWith(head)) await savepointed(client, `ALTER TABLE ${copy.qualified} ADD COLUMN ${a.sql.slice(head.length)}`, notes, a.description);
    }
  }
}

/** Run a statement under a savepoint; on failure, note it and go on. */
async function savepointed(client: pg.Client, sql: string, notes: string[], what: string): Promise<boolean> {
  await client.query('SAVEPOINT tandem_step');
  try {
    await client.query(sql);
    await client.query('RELEASE SAVEPOINT tandem_step');
    return true;
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT tandem_step');
    notes.push(`${what}: not measured (${(err as Error).message})`);
    return false;
  }
}

async function timed(client: pg.Client, sql: string): Promise<number> {
  const t = now();
  await client.query(sql);
  return (now() - t) / 1000;
}

interface Measured {
  seconds: number;
  batches: number;
  sweepSeconds: number;
  method: 'batch-statement' | 'plain-update';
}

/**
 * The backfill's statements under a savepoint: if `up` fails on a synthetic value (a cast the
 * live values pass), a plain UPDATE of the same rows is measured instead, and noted.
 */
async function measureBackfillSafely(client: pg.Client, step: BackfillStep, copy: Copy, batchSize: number, notes: string[]): Promise<Measured> {
  await client.query('SAVEPOINT tandem_backfill');
  try {
    const r = await measureBackfill(client, step, copy, batchSize, notes);
    await client.query('RELEASE SAVEPOINT tandem_backfill');
    return r;
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT tandem_backfill');
    notes.push(`the backfill's statement failed on the synthetic rows (${(err as Error).message}): timed as a plain UPDATE of the new columns`);
    return measurePlainUpdate(client, { ...step, schema: copy.schema, table: copy.name }, copy, batchSize);
  }
}

/**
 * The backfill's own statements over the copy: batch after batch as the executor sends them,
 * then one final sweep. Their checkpoint and skipped-keys tables are TEMP stand-ins of the same
 * shape (the state schema may not exist, and must not be written).
 */
async function measureBackfill(client: pg.Client, step: BackfillStep, copy: Copy, batchSize: number, notes: string[]): Promise<Measured> {
  const onCopy = { ...step, schema: copy.schema, table: copy.name };
  if (!isSetBased(onCopy) || onCopy.keyColumns.length === 0) {
    notes.push(
      onCopy.keyColumns.length === 0
        ? 'no key: timed as a plain UPDATE of the new columns in ctid batches, as the key-less backfill walks the table'
        : 'backfill through the trigger: estimated from a plain UPDATE',
    );
    return measurePlainUpdate(client, onCopy, copy, batchSize);
  }
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS backfill_checkpoints (
      migration_id bigint, table_name text, slice integer, key_columns text[], range_start text[], range_end text[], last_key text[],
      rows_done bigint DEFAULT 0, batches bigint DEFAULT 0, done boolean DEFAULT false, updated_at timestamptz, PRIMARY KEY (migration_id, table_name, slice)) ON COMMIT DROP`);
  await client.query(
    `CREATE TEMP TABLE IF NOT EXISTS backfill_skipped (migration_id bigint, table_name text, key text[], PRIMARY KEY (migration_id, table_name, key)) ON COMMIT DROP`,
  );
  await client.query(`INSERT INTO pg_temp.backfill_checkpoints (migration_id, table_name, slice, key_columns) VALUES (0, $1, 0, $2)`, [copy.name, onCopy.keyColumns]);
  const sql = keyedSql(onCopy);
  const onTemp = (s: string) => s.replace(/\btandem\.backfill_(checkpoints|skipped)\b/g, 'pg_temp.backfill_$1');
  let after: string[] | null = null;
  let batches = 0;
  const t = now();
  for (;;) {
    const r: pg.QueryResult<{ seen: number; last_key: string[] | null }> = await client.query(onTemp(sql.plainBatch({ migrationId: '0', slice: 0, limit: batchSize, after })));
    batches++;
    const row: { seen: number; last_key: string[] | null } = r.rows[0]!;
    if (row.seen === 0 || !row.last_key) break;
    after = row.last_key;
    if (row.seen < batchSize) break;
  }
  const seconds = (now() - t) / 1000;
  const ts = now();
  await client.query(onTemp(sql.sweep({ migrationId: '0', slice: 0, limit: Math.max(1_000, batchSize), after: null })));
  return { seconds, batches, sweepSeconds: (now() - ts) / 1000, method: 'batch-statement' };
}

/** `tandem verify`'s check of every row against `up` (src/exec/verify-sql.ts), over the whole copy in one statement. */
async function measureVerify(client: pg.Client, step: BackfillStep, copy: Copy): Promise<number | null> {
  const onCopy = { ...step, schema: copy.schema, table: copy.name };
  if (!isSetBased(onCopy) || onCopy.keyColumns.length === 0) return null;
  const t = {
    schema: copy.schema,
    table: copy.name,
    keyColumns: onCopy.keyColumns,
    keyTypes: onCopy.keyTypes,
    markerColumn: onCopy.markerColumn,
    targets: onCopy.up.targets,
    lateral: onCopy.up.lateral,
    otherColumns: [],
  };
  await client.query('SAVEPOINT tandem_verify');
  try {
    const seconds = await timed(client, chunkCheckSql(t, false, false, false));
    await client.query('RELEASE SAVEPOINT tandem_verify');
    return seconds;
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT tandem_verify');
    return null;
  }
}

/** Without a composed `up`: a keyset UPDATE of the marker and the new columns (set to themselves), batch by batch. */
async function measurePlainUpdate(client: pg.Client, step: BackfillStep, copy: Copy, batchSize: number): Promise<Measured> {
  const cols = await client.query<{ name: string }>(
    `SELECT attname::text AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname LIKE '\\_tandem\\_%'`,
    [copy.qualified],
  );
  const sets = cols.rows.map((c) => `${ident(c.name)} = ${c.name === step.markerColumn ? 'true' : ident(c.name)}`);
  if (sets.length === 0) sets.push(`${ident(step.markerColumn)} = true`);
  let batches = 0;
  const t = now();
  for (let page = 0; ; page++) {
    const r = await client.query(
      `UPDATE ${copy.qualified} SET ${sets.join(', ')} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${copy.qualified} WHERE ${ident(step.markerColumn)} IS NOT TRUE LIMIT ${batchSize}))`,
    );
    batches++;
    if ((r.rowCount ?? 0) < batchSize || page > 100_000) break;
  }
  const seconds = (now() - t) / 1000;
  const sweepSeconds = await timed(client, `SELECT count(*) FROM ${copy.qualified} WHERE ${ident(step.markerColumn)} IS NOT TRUE`);
  return { seconds, batches, sweepSeconds, method: 'plain-update' };
}

/**
 * What the same CREATE INDEX costs on an empty table of the same columns (catalog work, a
 * fixed cost that a small sample would otherwise count per row): subtracted from the sample's time.
 */
async function indexOverhead(client: pg.Client, copyQualified: string, sql: string): Promise<number> {
  const empty = `pg_temp.${ident(`_tandem_calibration_empty_${process.pid}`)}`;
  await client.query('SAVEPOINT tandem_empty');
  try {
    await client.query(`CREATE TEMP TABLE ${empty.slice('pg_temp.'.length)} (LIKE ${copyQualified})`);
    const t = now();
    await client.query(sql.replace(` ON ${copyQualified} `, ` ON ${empty} `).replace(/^CREATE UNIQUE INDEX/, 'CREATE INDEX'));
    return (now() - t) / 1000;
  } catch {
    return 0;
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT tandem_empty');
  }
}

/** Each index the plan builds on the table, built on the copy (at once; a unique one as non-unique if the sample has duplicates). */
async function measureIndexes(client: pg.Client, plan: Plan, schema: string, tableName: string, copyQualified: string, notes: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const live = qualified(schema, tableName);
  for (const step of [...plan.start, ...plan.complete]) {
    if (step.kind !== 'sql') continue;
    for (const a of step.actions) {
      if (a.table !== live || !/^CREATE (UNIQUE )?INDEX\b/.test(a.sql)) continue;
      const sql = indexOnTable(a.sql, copyQualified);
      if (!sql) {
        notes.push(`${a.description}: not measured (statement not understood)`);
        continue;
      }
      const t = now();
      const ok = (await savepointed(client, sql, [], a.description)) || (await savepointed(client, sql.replace(/^CREATE UNIQUE INDEX/, 'CREATE INDEX'), notes, a.description));
      if (ok) out[a.sql] = Math.max(0, (now() - t) / 1000 - (await indexOverhead(client, copyQualified, sql)));
    }
  }
  return out;
}
