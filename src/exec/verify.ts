import type pg from 'pg';
import { ExecutionError } from '../errors.js';
import type { BackfillStep } from '../plan/types.js';
import type { MigrationRow } from '../state/store.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { DEFAULT_TARGET_BATCH_MS, openBackfillThrottle } from './backfill-throttle.js';
import { retryOnLockConflict } from './lock-retry.js';
import type { ExecOptions, Reporter } from './options.js';
import { ensureControlTables } from './throttle-control.js';
import { chunkCheckSql, chunkEndSql, chunkKeysSql, differingRowsSql, newVersionFixedPointSql, type VerifyTable } from './verify-sql.js';

/**
 * `tandem verify`: for every row of each backfilled table, is what the new columns hold what the
 * migration says they should hold?
 *
 * What is checked, precisely. A row is **consistent** when
 *   (a) its marker is true and every new column IS NOT DISTINCT FROM what `up` computes from the
 *       row's old columns (rows written by the old version, or by the backfill), or
 *   (b) writing its new columns back as the new version — the sync trigger then recomputes the
 *       old columns from them with `down` — leaves every other column as it is: the old columns
 *       are `down` of the new ones (rows written by the new version: `up(down(x))` need not be
 *       `x`, e.g. up = lower(email), down = upper(email)).
 * Which version wrote a row is not recorded, so (b) is tried for the rows (a) does not hold for.
 * (b) runs the real trigger, in a transaction that is always rolled back, on those rows only
 * (normally none, or the few the new version wrote with a lossy `down`); it locks them for that
 * instant, like any write, under --lock-timeout. A row neither (a) nor (b) holds for is a
 * mismatch: written without the trigger (session_replication_role = replica, a disabled trigger),
 * or changed by hand. Known limit: a user trigger on the table that changes other columns on
 * every update (updated_at = now()) makes (b) fail, so such rows are reported.
 *
 * How. The table is walked in chunks of its key (range (start, end]); each chunk is one statement
 * counting the rows whose stored new columns differ from the recomputed ones (typed comparison;
 * with `checksums`, also md5 checksums of both sides in key order, stored with the chunk, as
 * Spirit does across two tables — here both sides are in the same row, so the comparison itself
 * is cheaper and exact). Only a chunk with differing rows is searched row by row. A chunk whose recomputation fails
 * (an `up` that errors on some row) is split until the failing rows are found, and they are
 * reported as mismatches. Every chunk's result is stored (tandem.verify_chunks) as it is checked,
 * so an interrupted verify resumes after its last chunk; the chunks are paced by the backfill
 * throttle (slice -1), so `tandem backfill pause` pauses a verify too. No transaction is held
 * between chunks. A table without a key is walked by ranges of heap pages, its rows named by ctid.
 */

export interface VerifyOptions {
  exec: ExecOptions;
  reporter?: Pick<Reporter, 'info' | 'warn'>;
  /** First chunk size in rows (the throttle adapts it); default 10 000. */
  chunkRows?: number;
  /** Start a new run even if an unfinished one could be resumed. */
  restart?: boolean;
  /** Mismatches reported in full (all are counted); default 100. */
  maxReported?: number;
  /** Also compute and store md5 checksums of each chunk's stored and recomputed columns (slower). */
  checksums?: boolean;
}

export interface Mismatch {
  table: string;
  /** Key column → value (as text). */
  key: Record<string, string>;
  reason: 'differs' | 'not-synced' | 'up-fails';
  /** The new columns whose stored value differs from up(old). */
  columns: string[];
  stored?: string;
  computed?: string;
  error?: string;
}

export interface TableVerification {
  table: string;
  rows: number;
  chunks: number;
  mismatches: number;
  notSynced: number;
  /** Why the table was not verified, if it was not. */
  skipped?: string;
  /** SQL that re-syncs the mismatched rows from the old columns, as the backfill does. */
  resyncSql?: string;
}

export interface VerifyReport {
  migration: string;
  runId: string;
  resumed: boolean;
  ok: boolean;
  rowsChecked: number;
  mismatchCount: number;
  /** Of the mismatches, the rows whose marker is not true (what complete's marker check reports on its own). */
  notSyncedCount: number;
  tables: TableVerification[];
  mismatches: Mismatch[];
  durationMs: number;
}

const DEFAULT_CHUNK_ROWS = 10_000;
const KEYS_PER_CHUNK_STORED = 100;
/** SQLSTATE classes of an `up` that fails on a row's values (data exception, integrity, raise). */
const DATA_ERROR = /^(22|23|P0|42883|2F)/;

type StepWithUp = BackfillStep & { up?: { targets: string[]; lateral: string } };

export async function verifyMigration(client: pg.Client, row: MigrationRow, opts: VerifyOptions): Promise<VerifyReport> {
  const began = performance.now();
  await ensureControlTables(client);
  const { runId, resumed } = await openRun(client, row.id, opts.restart === true);
  const tables: TableVerification[] = [];
  for (const step of backfilledTables(row)) {
    const setup = await tableSetup(client, step);
    if (typeof setup === 'string') {
      tables.push({ table: step.table, rows: 0, chunks: 0, mismatches: 0, notSynced: 0, skipped: setup });
      continue;
    }
    await verifyTable(client, row, runId, setup, opts);
    tables.push(await tableTotals(client, runId, setup));
  }
  await client.query(`UPDATE tandem.verify_runs SET finished_at = now() WHERE id = $1`, [runId]);
  const mismatches = await storedMismatches(client, runId, opts.maxReported ?? 100);
  const mismatchCount = tables.reduce((n, t) => n + t.mismatches, 0);
  return {
    migration: row.name,
    runId,
    resumed,
    ok: mismatchCount === 0,
    rowsChecked: tables.reduce((n, t) => n + t.rows, 0),
    mismatchCount,
    notSyncedCount: tables.reduce((n, t) => n + t.notSynced, 0),
    tables,
    mismatches,
    durationMs: Math.round(performance.now() - began),
  };
}

/** The start phase's backfill steps, one per table. */
function backfilledTables(row: MigrationRow): StepWithUp[] {
  const seen = new Set<string>();
  const steps: StepWithUp[] = [];
  for (const s of row.plan.start) {
    if (s.kind !== 'backfill' || s.verifyOnly || seen.has(`${s.schema}.${s.table}`)) continue;
    seen.add(`${s.schema}.${s.table}`);
    steps.push(s as StepWithUp);
  }
  return steps;
}

/** The table's verify description, or why it cannot be verified. */
async function tableSetup(client: pg.Client, step: StepWithUp): Promise<VerifyTable | string> {
  if (!step.up) return 'the plan has no recomputation of `up` for it (nothing for `up` to fill, or planned by an older tandem)';
  const cols = await client.query<{ attname: string; generated: boolean }>(
    `SELECT attname, attgenerated <> '' AS generated FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [qualified(step.schema, step.table)],
  );
  const present = new Set(cols.rows.map((c) => c.attname));
  const missing = [step.markerColumn, ...step.up.targets].filter((c) => !present.has(c));
  if (missing.length) return `its new columns are gone (${missing.join(', ')}): the migration's contract already ran`;
  const skip = new Set([step.markerColumn, ...step.up.targets]);
  // A table with no key is walked by ranges of heap pages (ctid, TID range scans), keys reported as ctids.
  const byCtid = step.keyColumns.length === 0;
  return {
    schema: step.schema,
    table: step.table,
    keyColumns: byCtid ? ['ctid'] : step.keyColumns,
    keyTypes: byCtid ? ['tid'] : step.keyTypes,
    byCtid,
    markerColumn: step.markerColumn,
    targets: step.up.targets,
    lateral: step.up.lateral,
    otherColumns: cols.rows.filter((c) => !c.generated && !skip.has(c.attname)).map((c) => c.attname),
  };
}

/** The unfinished run to resume, else a new one. */
async function openRun(client: pg.Client, migrationId: string, restart: boolean): Promise<{ runId: string; resumed: boolean }> {
  if (!restart) {
    const r = await client.query<{ id: string }>(`SELECT id::text FROM tandem.verify_runs WHERE migration_id = $1 AND finished_at IS NULL ORDER BY id DESC LIMIT 1`, [migrationId]);
    if (r.rows[0]) return { runId: r.rows[0].id, resumed: true };
  }
  const r = await client.query<{ id: string }>(`INSERT INTO tandem.verify_runs (migration_id) VALUES ($1) RETURNING id::text`, [migrationId]);
  return { runId: r.rows[0]!.id, resumed: false };
}

interface ChunkResult {
  rows: number;
  stored: string | null;
  computed: string | null;
  mismatches: Mismatch[];
}

async function verifyTable(client: pg.Client, row: MigrationRow, runId: string, t: VerifyTable, opts: VerifyOptions): Promise<void> {
  const last = await client.query<{ chunk: number; range_end: string[] | null }>(
    `SELECT chunk, range_end FROM tandem.verify_chunks WHERE run_id = $1 AND table_name = $2 ORDER BY chunk DESC LIMIT 1`,
    [runId, t.table],
  );
  if (last.rows[0] && last.rows[0].range_end === null) return; // this run already checked the whole table
  let start = last.rows[0]?.range_end ?? null;
  let chunk = (last.rows[0]?.chunk ?? -1) + 1;
  const throttle = await openBackfillThrottle({
    client,
    migrationId: row.id,
    schema: t.schema,
    table: t.table,
    slice: -1,
    // A target, so that chunks grow past the first size toward ~100 ms each.
    options: { ...opts.exec, batchSize: opts.chunkRows ?? DEFAULT_CHUNK_ROWS, targetBatchMs: opts.exec.targetBatchMs ?? DEFAULT_TARGET_BATCH_MS },
    ...(opts.reporter ? { reporter: opts.reporter } : {}),
  });
  try {
    for (;;) {
      const { batchSize } = await throttle.beforeBatch();
      const began = performance.now();
      const end = await chunkEnd(client, t, start, batchSize);
      const result = await checkRange(client, row, t, start, end, opts);
      await client.query(
        `INSERT INTO tandem.verify_chunks (run_id, table_name, chunk, range_start, range_end, rows, stored_checksum, computed_checksum, mismatches, not_synced, mismatched_keys)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $10) ON CONFLICT DO NOTHING`,
        [
          runId,
          t.table,
          chunk,
          start,
          end,
          result.rows,
          result.stored,
          result.computed,
          result.mismatches.length,
          JSON.stringify(result.mismatches.slice(0, KEYS_PER_CHUNK_STORED)),
          result.mismatches.filter((m) => m.reason === 'not-synced').length,
        ],
      );
      throttle.afterBatch({ rows: result.rows, durationMs: performance.now() - began });
      if (end === null) return;
      start = end;
      chunk++;
    }
  } finally {
    await throttle.close();
  }
}

/** The last key of the chunk of `size` rows after `start`, or null when fewer rows are left (the chunk runs to the end). */
async function chunkEnd(client: pg.Client, t: VerifyTable, start: string[] | null, size: number): Promise<string[] | null> {
  if (t.byCtid) return ctidChunkEnd(client, t, start, size);
  const r = await client.query<{ key: string[] }>(chunkEndSql(t, start !== null), [...(start ?? []), Math.max(1, size)]);
  return r.rows[0]?.key ?? null;
}

/**
 * By ctid, a chunk is a range of heap pages: (start, end] with tids '(p,0)' is pages p … end-1
 * (tuple offsets start at 1). Null when it reaches the table's current last page.
 */
async function ctidChunkEnd(client: pg.Client, t: VerifyTable, start: string[] | null, size: number): Promise<string[] | null> {
  const r = await client.query<{ pages: string; per_page: number }>(
    `SELECT (pg_relation_size(c.oid) / current_setting('block_size')::int)::text AS pages,
            greatest(1, coalesce(c.reltuples / nullif(c.relpages, 0), 100))::float8 AS per_page
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [qualified(t.schema, t.table)],
  );
  const from = start ? Number(/^\((\d+),/.exec(start[0]!)?.[1] ?? 0) : 0;
  const end = from + Math.max(1, Math.ceil(size / r.rows[0]!.per_page));
  return end >= Number(r.rows[0]!.pages) ? null : [`(${end},0)`];
}

function rangeParams(start: string[] | null, end: string[] | null): string[] {
  return [...(start ?? []), ...(end ?? [])];
}

/** Checksums of the range; the rows that differ only when they do; split on a row whose `up` fails. */
async function checkRange(client: pg.Client, row: MigrationRow, t: VerifyTable, start: string[] | null, end: string[] | null, opts: VerifyOptions): Promise<ChunkResult> {
  try {
    const check = await client.query<{ rows: string; differing: string; stored: string | null; computed: string | null }>(
      chunkCheckSql(t, start !== null, end !== null, opts.checksums === true),
      rangeParams(start, end),
    );
    const s = check.rows[0]!;
    const result = { rows: Number(s.rows), stored: s.stored, computed: s.computed, mismatches: [] as Mismatch[] };
    if (Number(s.differing) === 0) return result;
    const diff = await client.query<{ key: string[]; synced: boolean; columns: string[]; stored: string; computed: string }>(differingRowsSql(t, start !== null, end !== null), [
      ...rangeParams(start, end),
      result.rows + 1,
    ]);
    const candidates = diff.rows.filter((d) => d.synced && d.columns.length > 0);
    const consistent = await writtenByNewVersion(
      client,
      row,
      t,
      candidates.map((c) => c.key),
      opts.exec,
    );
    result.mismatches = diff.rows
      .filter((d) => !consistent.has(JSON.stringify(d.key)))
      .map((d) => ({
        table: t.table,
        key: keyRecord(t, d.key),
        reason: d.synced ? ('differs' as const) : ('not-synced' as const),
        columns: d.columns,
        stored: d.stored,
        computed: d.computed,
      }));
    return result;
  } catch (err) {
    if (!DATA_ERROR.test((err as { code?: string }).code ?? '')) throw err;
    return splitFailingRange(client, row, t, start, end, opts, err as Error);
  }
}

/** `up` failed somewhere in the range: halve it until the rows it fails on are alone. */
async function splitFailingRange(
  client: pg.Client,
  row: MigrationRow,
  t: VerifyTable,
  start: string[] | null,
  end: string[] | null,
  opts: VerifyOptions,
  err: Error,
): Promise<ChunkResult> {
  const keys = (await client.query<{ key: string[] }>(chunkKeysSql(t, start !== null, end !== null), rangeParams(start, end))).rows.map((r) => r.key);
  if (keys.length <= 1) {
    const mismatches: Mismatch[] = keys.map((k) => ({ table: t.table, key: keyRecord(t, k), reason: 'up-fails', columns: t.targets, error: err.message }));
    return { rows: keys.length, stored: null, computed: null, mismatches };
  }
  const mid = keys[Math.floor(keys.length / 2) - 1]!;
  const a = await checkRange(client, row, t, start, mid, opts);
  const b = await checkRange(client, row, t, mid, end, opts);
  return { rows: a.rows + b.rows, stored: null, computed: null, mismatches: [...a.mismatches, ...b.mismatches] };
}

/**
 * Of the given rows, those consistent as written by the new version (or that hold up(old) again
 * by now): check (b) of the header, in a transaction that is always rolled back.
 */
async function writtenByNewVersion(client: pg.Client, row: MigrationRow, t: VerifyTable, keys: string[][], exec: ExecOptions): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const ok = new Set<string>();
  for (let i = 0; i < keys.length; i += 500) {
    const part = keys.slice(i, i + 500);
    const r = await retryOnLockConflict(
      async () => {
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(exec.lockTimeoutMs))}`);
          await client.query(`SET LOCAL tandem.version = ${literal(row.version_schema)}`);
          return await client.query<{ key: string[]; up_holds: boolean; down_holds: boolean }>(newVersionFixedPointSql(t), [JSON.stringify(part)]);
        } finally {
          await client.query('ROLLBACK').catch(() => undefined);
        }
      },
      { maxAttempts: 50 },
    );
    const found = new Set(r.rows.map((x) => JSON.stringify(x.key)));
    for (const x of r.rows) if (x.up_holds || x.down_holds) ok.add(JSON.stringify(x.key));
    for (const k of part) if (!found.has(JSON.stringify(k))) ok.add(JSON.stringify(k)); // deleted meanwhile: nothing to check
  }
  return ok;
}

function keyRecord(t: VerifyTable, key: string[]): Record<string, string> {
  return Object.fromEntries(t.keyColumns.map((k, i) => [k, key[i]!]));
}

async function tableTotals(client: pg.Client, runId: string, t: VerifyTable): Promise<TableVerification> {
  const r = await client.query<{ rows: string; chunks: number; mismatches: string; not_synced: string }>(
    `SELECT coalesce(sum(rows), 0)::text AS rows, count(*)::int AS chunks, coalesce(sum(mismatches), 0)::text AS mismatches,
            coalesce(sum(not_synced), 0)::text AS not_synced
       FROM tandem.verify_chunks WHERE run_id = $1 AND table_name = $2`,
    [runId, t.table],
  );
  const totals = r.rows[0]!;
  const mismatches = Number(totals.mismatches);
  const result: TableVerification = { table: t.table, rows: Number(totals.rows), chunks: totals.chunks, mismatches, notSynced: Number(totals.not_synced) };
  if (mismatches > 0) {
    const keys = await client.query<{ key: Record<string, string> }>(
      `SELECT m -> 'key' AS key FROM tandem.verify_chunks c CROSS JOIN jsonb_array_elements(c.mismatched_keys) AS m WHERE c.run_id = $1 AND c.table_name = $2 ORDER BY c.chunk LIMIT 20`,
      [runId, t.table],
    );
    result.resyncSql = resyncSql(
      t,
      keys.rows.map((k) => t.keyColumns.map((c) => k.key[c]!)),
    );
  }
  return result;
}

/** Recompute the new columns of those rows from the old ones, through the sync trigger, as the backfill does. */
export function resyncSql(t: Pick<VerifyTable, 'schema' | 'table' | 'keyColumns' | 'keyTypes' | 'markerColumn'>, keys: string[][]): string {
  const tuple = (k: string[]) => `(${k.map((v, i) => `${literal(v)}::${t.keyTypes[i]}`).join(', ')})`;
  return (
    `BEGIN; SET LOCAL tandem.version = '__tandem_backfill'; ` +
    `UPDATE ${qualified(t.schema, t.table)} SET ${ident(t.markerColumn)} = true WHERE (${t.keyColumns.map(ident).join(', ')}) IN (${keys.map(tuple).join(', ')}); COMMIT;`
  );
}

async function storedMismatches(client: pg.Client, runId: string, limit: number): Promise<Mismatch[]> {
  const r = await client.query<{ m: Mismatch }>(
    `SELECT m FROM tandem.verify_chunks c CROSS JOIN jsonb_array_elements(c.mismatched_keys) AS m WHERE c.run_id = $1 ORDER BY c.table_name, c.chunk LIMIT $2`,
    [runId, Math.max(0, limit)],
  );
  return r.rows.map((x) => x.m);
}

/** "users id=42: new column _tandem_new_email holds 'x', up(old) gives 'y'". */
export function describeMismatch(m: Mismatch): string {
  const key = Object.entries(m.key)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (m.reason === 'up-fails') return `${m.table} ${key}: \`up\` fails on this row (${m.error ?? 'error'})`;
  if (m.reason === 'not-synced') return `${m.table} ${key}: not in sync (its marker is not true: written without the sync trigger, or not yet backfilled)`;
  return `${m.table} ${key}: ${m.columns.join(', ')} holds ${m.stored ?? '?'}, \`up\` of the old columns gives ${m.computed ?? '?'} (and it is not \`down\`-consistent either)`;
}

/**
 * `complete`'s check: refuse, changing nothing, when a row differs. Rows whose marker is not true
 * are left to complete's first step (the marker check, src/plan/complete-order.ts), which refuses
 * them with its own hint (`backfill-incomplete`); this check refuses the rows that are marked in
 * sync but hold something else than the migration computes.
 */
export async function assertVerified(client: pg.Client, row: MigrationRow, opts: VerifyOptions): Promise<VerifyReport> {
  const report = await verifyMigration(client, row, { ...opts, restart: true });
  const differing = report.mismatchCount - report.notSyncedCount;
  if (differing === 0) {
    const skipped = report.tables.filter((t) => t.skipped).map((t) => `; ${t.table} skipped: ${t.skipped}`);
    opts.reporter?.info(`verify: ${report.rowsChecked} rows checked in ${(report.durationMs / 1000).toFixed(1)} s, none differs${skipped.join('')}`);
    return report;
  }
  const listed = report.mismatches.filter((m) => m.reason !== 'not-synced');
  const shown = listed.slice(0, 10).map((m) => `    ${describeMismatch(m)}`);
  const more = differing > shown.length ? [`    … ${differing - shown.length} more (\`tandem verify --json\` lists them)`] : [];
  const resync = report.tables.filter((t) => t.resyncSql).map((t) => `    ${t.resyncSql}`);
  throw new ExecutionError(
    `verify: ${differing} row${differing === 1 ? '' : 's'} of migration ${row.name} do not hold what the migration computes:\n${[...shown, ...more].join('\n')}\n` +
      `  nothing was changed: no step ran, the migration stays ${row.phase}.\n` +
      `  hint: re-sync those rows from the old columns as the backfill does, then run \`tandem complete\` again:\n${resync.join('\n')}\n` +
      '  or run `tandem rollback`; `tandem complete --no-verify` skips this check.',
    { table: listed[0]?.table ?? '' },
    { code: 'verify-mismatch' },
  );
}
