import { UP_ROW_ALIAS } from '../plan/compose-up.js';
import type { BackfillStep } from '../plan/types.js';
import { ident, literal, qualified } from '../sql/ident.js';

/**
 * The statements of the set-based backfill, as text with every value inlined as a quoted literal:
 * each batch is sent as ONE simple-protocol round trip, `BEGIN; SET LOCAL …; <statement>; COMMIT`
 * (the simple protocol takes no parameters). Pure: no I/O.
 *
 * Each statement locks its candidate rows (marker IS NOT TRUE) FOR UPDATE SKIP LOCKED in a CTE
 * that returns the locked row versions' ctids; the UPDATE then addresses exactly those tuple
 * versions (a TID scan of `ctid = ANY (…)`) and computes the new columns from them, through the
 * step's composed `up` (src/plan/compose-up.ts), writing them with the marker. It is never a
 * second scan by key: in READ COMMITTED a row updated since the statement's snapshot is locked in
 * its newest version, whose ctid is the one returned; an UPDATE by key would find the older
 * version its snapshot sees. The keys of the rows seen but locked by someone else are stored in
 * tandem.backfill_skipped, and the checkpoint moves, all in the same statement.
 */

export type SetBasedStep = BackfillStep & { up: NonNullable<BackfillStep['up']> };

export function isSetBased(step: BackfillStep): step is SetBasedStep {
  return step.up !== undefined && step.up.targets.length > 0;
}

/** Where a batch stands: the migration, the table's checkpoint row (slice), and the key bounds. */
export interface BatchArgs {
  migrationId: string;
  slice: number;
  limit: number;
  /** Exclusive lower bound (the checkpoint's last key or the slice's range_start); undefined: from the start. */
  after?: string[] | null | undefined;
  /** Inclusive upper bound (the slice's range_end); undefined: to the end. */
  upTo?: string[] | null | undefined;
}

/** Counts of one statement: how many candidates it saw, updated, stored as skipped; the last key it reached. */
export interface BatchResult {
  seen: number;
  updated: number;
  skipped: number;
  last_key: string[] | null;
}

export interface KeyedSql {
  /** A batch that locks its rows first (FOR UPDATE SKIP LOCKED) and stores the keys others hold. */
  batch(a: BatchArgs): string;
  /** A batch that is one UPDATE of the next keys' range, with no row lock of its own first: run it under a short lock_timeout. */
  plainBatch(a: BatchArgs): string;
  sweep(a: BatchArgs): string;
  /** `after`: the last stored key of the previous chunk (text[]), or none. */
  revisit(a: { migrationId: string; limit: number; after: string[] | null }): string;
}

const lit = (v: string | number) => literal(String(v));

export function keyedSql(step: SetBasedStep): KeyedSql {
  const table = qualified(step.schema, step.table);
  const keys = step.keyColumns.map(ident);
  const keyList = keys.join(', ');
  const of = (alias: string) => keys.map((k) => `${alias}.${k}`).join(', ');
  const tuple = (alias: string) => (keys.length === 1 ? of(alias) : `ROW(${of(alias)})`);
  const same = (a: string, b: string) => keys.map((k) => `${a}.${k} = ${b}.${k}`).join(' AND ');
  const asText = (alias: string) => `array[${keys.map((k) => `${alias}.${k}::text`).join(', ')}]`;
  const keyValue = (key: string[]) => {
    const parts = step.keyTypes.map((t, i) => `${lit(key[i]!)}::${t}`);
    return parts.length === 1 ? parts[0]! : `ROW(${parts.join(', ')})`;
  };
  const bounds = (alias: string, a: BatchArgs) =>
    [a.after ? `${tuple(alias)} > ${keyValue(a.after)}` : undefined, a.upTo ? `${tuple(alias)} <= ${keyValue(a.upTo)}` : undefined].filter(Boolean) as string[];
  const where = (conds: string[]) => (conds.length ? `WHERE ${conds.join(' AND ')}` : '');
  const marker = ident(step.markerColumn);
  const tableName = lit(step.table);
  const orderDesc = (alias: string) => keys.map((k) => `${alias}.${k} DESC`).join(', ');

  /** The locking CTE: the candidates' rows not yet in sync, locked unless held by others, with their new values. */
  const locked = (conds: string[], limit: number) => `
    locked AS (
      SELECT ${of(UP_ROW_ALIAS)}, ${UP_ROW_ALIAS}.ctid AS __tandem_ctid FROM ${table} AS ${UP_ROW_ALIAS}
       WHERE ${[...conds, `${UP_ROW_ALIAS}.${marker} IS NOT TRUE`].join(' AND ')}
       ORDER BY ${of(UP_ROW_ALIAS)} LIMIT ${Math.trunc(limit)}
       FOR UPDATE OF ${UP_ROW_ALIAS} SKIP LOCKED
    ), upd AS (
      ${writeLockedSql(step)}
    )`;
  // Keys seen not in sync (by the statement's snapshot) that the locking query did not return:
  // held by another transaction, or written since (then in sync already; the revisit drops them).
  // `unsynced`: whether a key `s` the locking query did not return was out of sync (by the
  // snapshot); checked after the cheap NOT IN, so only for those few keys.
  const storeSkipped = (migrationId: string, from: string, unsynced: string) => `
    stored AS (
      INSERT INTO tandem.backfill_skipped (migration_id, table_name, key)
      SELECT ${lit(migrationId)}::bigint, ${tableName}, ${asText('s')} FROM ${from} s
       WHERE (${of('s')}) NOT IN (SELECT ${keyList} FROM locked) AND ${unsynced}
      ON CONFLICT DO NOTHING RETURNING 1
    )`;
  const checkpoint = (a: BatchArgs, from: string, withKey: boolean, finished: string) => `
    cp AS (
      UPDATE tandem.backfill_checkpoints
         SET ${withKey ? `last_key = coalesce((SELECT ${asText('e')} FROM edge e), last_key), batches = batches + 1, done = ${finished}, ` : ''}rows_done = rows_done + (SELECT count(*) FROM upd), updated_at = now()
       WHERE migration_id = ${lit(a.migrationId)}::bigint AND table_name = ${tableName} AND slice = ${Math.trunc(a.slice)}${from}
      RETURNING 1
    )`;
  const counts = (seenFrom: string) =>
    `SELECT (SELECT count(*) FROM ${seenFrom})::int AS seen, (SELECT count(*) FROM upd)::int AS updated,
            (SELECT count(*) FROM stored)::int AS skipped, (SELECT ${asText('e')} FROM edge e) AS last_key,
            (SELECT count(*) FROM cp)::int AS checkpointed`;

  // batch: the next keys of the slice by the keyset (an index-only scan where the visibility map
  // allows: the heap is read once, by the locking query);
  // edge: the last of them, the new checkpoint; locked/upd: the rows among them not in sync.
  // The slice is done when the batch came back short: later inserts are synced by the trigger.
  const batch = (a: BatchArgs) => `
    WITH batch AS (
      SELECT ${keyList} FROM ${table} b ${where(bounds('b', a))}
       ORDER BY ${keyList} LIMIT ${Math.trunc(a.limit)}
    ), edge AS (
      SELECT ${keyList} FROM batch b ORDER BY ${orderDesc('b')} LIMIT 1
    ), ${locked([...bounds(UP_ROW_ALIAS, { ...a, upTo: undefined }), `${tuple(UP_ROW_ALIAS)} <= (SELECT ${keyList} FROM edge)`], a.limit)},
    ${storeSkipped(a.migrationId, 'batch', `EXISTS (SELECT 1 FROM ${table} x WHERE ${same('x', 's')} AND x.${marker} IS NOT TRUE)`)},
    ${checkpoint(a, '', true, `(SELECT count(*) FROM batch) < ${Math.trunc(a.limit)}`)}
    ${counts('batch')}`;

  // plainBatch: edge is the batch's last key (the limit-th after the bounds, by the keyset; none
  // when fewer are left), upper the batch's inclusive end (the edge, else the slice's end, else
  // the table's last key), and one UPDATE writes the unsynced rows of (after, upper]: a range
  // scan of the key index, each row visited once. It waits for rows others hold instead of
  // skipping them: in READ COMMITTED it then re-reads each such row's newest version and writes
  // it only if it is still out of sync (the trigger marks every row it writes), computing the
  // values from that version, so traffic's writes are never overwritten. The caller bounds the
  // wait with a short lock_timeout and, on a timeout or a deadlock, redoes the batch with `batch`.
  // Upper-bound columns are scalar subqueries, so the range stays an index condition.
  const plainBatch = (a: BatchArgs) => {
    const last = a.upTo
      ? `SELECT ${a.upTo.map((v, i) => `${lit(v)}::${step.keyTypes[i]!} AS ${keys[i]!}`).join(', ')}`
      : `SELECT ${keyList} FROM ${table} l ORDER BY ${orderDesc('l')} LIMIT 1`;
    const upper = keys.length === 1 ? `(SELECT ${keyList} FROM upper)` : `ROW(${keys.map((k) => `(SELECT ${k} FROM upper)`).join(', ')})`;
    const conds = [...bounds(UP_ROW_ALIAS, { ...a, upTo: undefined }), `${tuple(UP_ROW_ALIAS)} <= ${upper}`];
    return `
    WITH edge AS (
      SELECT ${keyList} FROM ${table} b ${where(bounds('b', a))}
       ORDER BY ${keyList} OFFSET ${Math.max(0, Math.trunc(a.limit) - 1)} LIMIT 1
    ), last AS (
      ${last}
    ), upper AS (
      SELECT ${keyList} FROM edge UNION ALL SELECT ${keyList} FROM last WHERE NOT EXISTS (SELECT 1 FROM edge)
    ), upd AS (
      ${writeRowsSql(step, conds)}
    ),
    ${checkpoint(a, '', true, 'NOT EXISTS (SELECT 1 FROM edge)')}
    SELECT CASE WHEN EXISTS (SELECT 1 FROM edge) THEN ${Math.trunc(a.limit)} ELSE (SELECT count(*) FROM upd) END::int AS seen,
           (SELECT count(*) FROM upd)::int AS updated, 0 AS skipped, (SELECT ${asText('e')} FROM edge e) AS last_key,
           (SELECT count(*) FROM cp)::int AS checkpointed`;
  };

  // The sweep walks the key (index order) looking only at rows not in sync; when every row is,
  // one statement reaches the end of the table without writing anything.
  const sweep = (a: BatchArgs) => `
    WITH unsynced AS (
      SELECT ${keyList} FROM ${table} u ${where([...bounds('u', a), `u.${marker} IS NOT TRUE`])}
       ORDER BY ${keyList} LIMIT ${Math.trunc(a.limit)}
    ), edge AS (
      SELECT ${keyList} FROM unsynced u ORDER BY ${orderDesc('u')} LIMIT 1
    ), ${locked([`(${of(UP_ROW_ALIAS)}) IN (SELECT ${keyList} FROM unsynced)`], a.limit)},
    ${storeSkipped(a.migrationId, 'unsynced', 'true')},
    ${checkpoint(a, '', false, 'done')}
    ${counts('unsynced')}`;

  // The stored keys, in chunks; a key leaves the list once its row is in sync or gone.
  const revisit = (a: { migrationId: string; limit: number; after: string[] | null }) => `
    WITH keys AS (
      SELECT ${step.keyTypes.map((t, i) => `(sk.key[${i + 1}])::${t} AS ${keys[i]}`).join(', ')}, sk.key AS __tandem_key FROM tandem.backfill_skipped sk
       WHERE sk.migration_id = ${lit(a.migrationId)}::bigint AND sk.table_name = ${tableName}${a.after ? ` AND sk.key > ${literal(`{${a.after.map(arrayElement).join(',')}}`)}::text[]` : ''}
       ORDER BY sk.key LIMIT ${Math.trunc(a.limit)}
    ), ${locked([`(${of(UP_ROW_ALIAS)}) IN (SELECT ${keyList} FROM keys)`], a.limit)}, still AS (
      SELECT k.__tandem_key FROM keys k JOIN ${table} t ON ${same('t', 'k')}
       WHERE t.${marker} IS NOT TRUE AND (${of('k')}) NOT IN (SELECT ${keyList} FROM locked)
    ), resolved AS (
      DELETE FROM tandem.backfill_skipped s
       WHERE s.migration_id = ${lit(a.migrationId)}::bigint AND s.table_name = ${tableName}
         AND s.key IN (SELECT __tandem_key FROM keys) AND s.key NOT IN (SELECT __tandem_key FROM still)
      RETURNING 1
    ), cp AS (
      UPDATE tandem.backfill_checkpoints SET rows_done = rows_done + (SELECT count(*) FROM upd), updated_at = now()
       WHERE migration_id = ${lit(a.migrationId)}::bigint AND table_name = ${tableName} AND slice = 0 AND EXISTS (SELECT 1 FROM upd)
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM keys)::int AS pending, (SELECT count(*) FROM upd)::int AS updated,
           (SELECT count(*) FROM still)::int AS still, (SELECT max(__tandem_key) FROM keys) AS last_key,
           (SELECT count(*) FROM cp)::int AS checkpointed`;

  return { batch, plainBatch, sweep, revisit };
}

/**
 * The UPDATE of the locked row versions (CTE `locked`, column __tandem_ctid): each is addressed by
 * its ctid, so the values are computed from the very version that was locked. The UPDATE sees the
 * statement's snapshot: a version newer than it (written since by a writer that left the row out
 * of sync: the trigger never does, it sets the marker, and such a row is not locked here at all)
 * is not visible there and is not written; the final sweep finds that row by its marker. A ctid
 * cannot point at another row meanwhile: the row is locked, so nothing can move or remove it.
 */
function writeLockedSql(step: SetBasedStep): string {
  return writeRowsSql(step, [`${UP_ROW_ALIAS}.ctid = ANY (ARRAY(SELECT __tandem_ctid FROM locked))`]);
}

/** The UPDATE of the rows out of sync among those `conds` select (a key range, or ctids), with their new values and the marker. */
function writeRowsSql(step: SetBasedStep, conds: string[]): string {
  const targets = step.up.targets.map(ident);
  const marker = ident(step.markerColumn);
  return `UPDATE ${qualified(step.schema, step.table)} AS ${UP_ROW_ALIAS}
         SET (${[...targets, marker].join(', ')}) = (SELECT ${targets.map((t) => `__tandem_up.${t}`).join(', ')}, true FROM ${step.up.lateral})
       WHERE ${[...conds, `${UP_ROW_ALIAS}.${marker} IS NOT TRUE`].join(' AND ')}
      RETURNING 1`;
}

/** An element of a text[] literal, quoted. */
function arrayElement(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * A batch of the key-less path: the rows of a range of heap pages (a TID range scan, PostgreSQL
 * 14+), locked, given their new values (writeLockedSql), and the checkpoint set to the next page.
 */
export function ctidBatchSql(step: SetBasedStep, a: { migrationId: string; fromPage: number | null; toPage: number | null; nextPage: number }): string {
  const table = qualified(step.schema, step.table);
  const marker = ident(step.markerColumn);
  const range = (alias: string) =>
    [
      a.fromPage !== null ? `${alias}.ctid >= '(${Math.trunc(a.fromPage)},0)'::tid` : undefined,
      a.toPage !== null ? `${alias}.ctid < '(${Math.trunc(a.toPage)},0)'::tid` : undefined,
    ].filter(Boolean) as string[];
  return `
    WITH locked AS (
      SELECT ${UP_ROW_ALIAS}.ctid AS __tandem_ctid FROM ${table} AS ${UP_ROW_ALIAS}
       WHERE ${[...range(UP_ROW_ALIAS), `${UP_ROW_ALIAS}.${marker} IS NOT TRUE`].join(' AND ')}
       FOR UPDATE OF ${UP_ROW_ALIAS} SKIP LOCKED
    ), upd AS (
      ${writeLockedSql(step)}
    ), cp AS (
      UPDATE tandem.backfill_checkpoints
         SET last_key = ${a.fromPage !== null ? `array[${lit(a.nextPage)}]` : 'last_key'}, rows_done = rows_done + (SELECT count(*) FROM upd),
             batches = batches + 1, updated_at = now()
       WHERE migration_id = ${lit(a.migrationId)}::bigint AND table_name = ${lit(step.table)} AND slice = 0
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM locked)::int AS seen, (SELECT count(*) FROM upd)::int AS updated, 0 AS skipped, NULL::text[] AS last_key,
           (SELECT count(*) FROM cp)::int AS checkpointed`;
}

/** The batch transaction as one query string: the trigger steps aside (its WHEN clause) for this transaction's writes. */
export function batchTransaction(statement: string, lockTimeoutMs: number, directWriter: string): string {
  return [
    'BEGIN',
    `SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`,
    `SET LOCAL tandem.version = ${literal(directWriter)}`,
    // Joins by key are nested loops over the key index: a hash join would scan the whole table.
    'SET LOCAL enable_hashjoin = off',
    'SET LOCAL enable_mergejoin = off',
    // The batch and its checkpoint commit together, so a batch lost to a server crash is lost
    // with its checkpoint and redone; the step's own record (a synchronous commit) flushes
    // every batch before it. No need to wait for the disk on each batch.
    'SET LOCAL synchronous_commit = off',
    statement.trim(),
    'COMMIT',
  ].join(';\n');
}
