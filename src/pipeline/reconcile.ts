import { StateError } from '../errors.js';
import { formatOf } from '../migration/load.js';
import type { Migration } from '../migration/schema.js';
import { compareFileNames, type DirectoryMigration } from './directory.js';
import { DirectoryError } from './errors.js';
import { type HistoryEntry, isInProgress, isLive } from './history-store.js';
import { renderedChecksum } from './render.js';

/**
 * What `tandem migrate <dir>` does, decided from the directory and the history alone (no I/O):
 * every refusal (drift, out of order, an in-progress migration without a file…) is found here,
 * before anything is changed.
 */

export interface MigrateOptions {
  /** Stop after this migration (its name, or its file name). */
  until?: string | undefined;
  /** Complete the last migration too, instead of leaving it active for the new app. */
  complete?: boolean | undefined;
  /** Refuse when more than one file is pending (a deploy meant to carry one migration). */
  expectOne?: boolean | undefined;
  /** Apply pending files that sort before the last applied one, instead of refusing. */
  allowOutOfOrder?: boolean | undefined;
}

/**
 * The checksum of a migration's document (lifecycle.ts `checksum`), for history rows applied
 * without a file; given by the caller, so that a run with nothing to do need not load the engine.
 */
export type DocumentChecksum = (m: Migration) => string;

export interface MigrateAction {
  kind: 'start' | 'complete';
  file: DirectoryMigration;
  /** The migration is already in progress: this continues a start or a complete that stopped. */
  resume: boolean;
}

export interface MigratePlan {
  actions: MigrateAction[];
  /** Files whose migration is completed. */
  applied: DirectoryMigration[];
  /** The file of the migration in progress before this run, if any. */
  inProgress: DirectoryMigration | null;
  /** Files this run starts, in order. */
  toStart: DirectoryMigration[];
  /** Pending files this run leaves alone (after `--until`). */
  leftPending: DirectoryMigration[];
  /** Pending files sorting before the last applied one, applied because of --allow-out-of-order. */
  outOfOrder: DirectoryMigration[];
  /** Applied migrations (baselines aside) that no file of the directory gives. */
  notInDirectory: HistoryEntry[];
  /** The migration left active at the end (the one the new app is deployed on), if any. */
  leftActive: string | null;
}

/** Whether the file is the one the history recorded for that migration. */
export function fileMatchesHistory(file: DirectoryMigration, entry: HistoryEntry, documentChecksum: DocumentChecksum): boolean {
  if (entry.fileChecksum === null) return documentChecksum(file.migration) === entry.checksum;
  // A file written by `tandem pull` has other bytes than the original, but exactly these.
  return file.checksum === entry.fileChecksum || file.checksum === renderedChecksum(entry.migration, formatOf(file.fileName));
}

function refuseDrift(files: DirectoryMigration[], live: Map<string, HistoryEntry>, documentChecksum: DocumentChecksum): void {
  const drifted = files.filter((f) => {
    const e = live.get(f.name);
    return e !== undefined && !fileMatchesHistory(f, e, documentChecksum);
  });
  if (drifted.length === 0) return;
  const lines = drifted.map((f) => {
    const e = live.get(f.name)!;
    const recorded = e.fileChecksum ?? `document ${e.checksum}`;
    return `${f.fileName} (migration ${f.name}, ${e.phase}): sha256 recorded when applied ${recorded}, file now ${f.checksum}`;
  });
  const activeOne = drifted.some((f) => isInProgress(live.get(f.name)!));
  throw new DirectoryError(
    `${drifted.length === 1 ? 'an applied migration file was' : `${drifted.length} applied migration files were`} changed after being applied:\n    ${lines.join('\n    ')}`,
    'restore the file as it was applied (from version control, or `tandem pull <empty dir>` writes the applied migrations); ' +
      'to change the schema further, add a new migration file that sorts after the last one' +
      (activeOne ? '; a migration still in progress can instead be undone with `tandem rollback`, after which `migrate` applies the changed file' : ''),
    'migration-drift',
    {
      files: drifted.map((f) => {
        const e = live.get(f.name)!;
        return { file: f.fileName, migration: f.name, phase: e.phase, recordedChecksum: e.fileChecksum, recordedDocumentChecksum: e.checksum, fileChecksum: f.checksum };
      }),
    },
  );
}

/** The last applied file in file-name order; pending files must sort after it. */
function lastAppliedFile(files: DirectoryMigration[], live: Map<string, HistoryEntry>): DirectoryMigration | undefined {
  return files.filter((f) => live.has(f.name)).at(-1);
}

function refuseOutOfOrder(outOfOrder: DirectoryMigration[], last: DirectoryMigration): void {
  if (outOfOrder.length === 0) return;
  throw new DirectoryError(
    `${outOfOrder.map((f) => f.fileName).join(', ')} ${outOfOrder.length === 1 ? 'is' : 'are'} not applied but sort${outOfOrder.length === 1 ? 's' : ''} before ${last.fileName}, the last applied file`,
    `rename ${outOfOrder.length === 1 ? 'it' : 'them'} so that ${outOfOrder.length === 1 ? 'it sorts' : 'they sort'} after ${last.fileName} (the history runs in file order; ` +
      'a renamed file without a `name` field gets its new name), or, when the order does not matter, run `tandem migrate --allow-out-of-order` to apply ' +
      `${outOfOrder.length === 1 ? 'it' : 'them'} now`,
    'out-of-order',
    { files: outOfOrder.map((f) => f.fileName), lastApplied: last.fileName },
  );
}

function untilIndex(pending: DirectoryMigration[], files: DirectoryMigration[], until: string | undefined): number {
  if (until === undefined) return pending.length;
  const target = files.find((f) => f.name === until || f.fileName === until);
  if (!target) {
    throw new DirectoryError(`--until ${until}: no file of the directory gives that migration (or file) name`, 'pass the name of one of its migrations', 'unknown-migration', {
      until,
    });
  }
  return pending.filter((f) => compareFileNames(f.fileName, target.fileName) <= 0).length;
}

function inProgressFile(files: DirectoryMigration[], entry: HistoryEntry | undefined, schema: string): DirectoryMigration | null {
  if (!entry) return null;
  if (entry.phase === 'rolling_back') {
    throw new StateError(`migration "${entry.name}" is being rolled back on schema "${schema}"`, 'run `tandem rollback` to finish it, then `tandem migrate` again', {
      code: 'rolling-back',
    });
  }
  const file = files.find((f) => f.name === entry.name);
  if (!file) {
    throw new DirectoryError(
      `migration "${entry.name}" is in progress on schema "${schema}" (phase ${entry.phase}) but no file of the directory gives that name`,
      'finish it first with `tandem complete` (or undo it with `tandem rollback`), or add its file to the directory (`tandem pull <dir>` writes it)',
      'in-progress-not-in-directory',
      { migration: entry.name, phase: entry.phase, file: entry.fileName },
    );
  }
  return file;
}

/** Decide the run: refusals first (each exit 2), then the list of start/complete actions. */
export function planMigrate(files: DirectoryMigration[], history: HistoryEntry[], schema: string, documentChecksum: DocumentChecksum, opts: MigrateOptions = {}): MigratePlan {
  const live = new Map(history.filter(isLive).map((e) => [e.name, e]));
  refuseDrift(files, live, documentChecksum);
  const last = lastAppliedFile(files, live);
  const pendingAll = files.filter((f) => !live.has(f.name));
  const outOfOrder = last ? pendingAll.filter((f) => compareFileNames(f.fileName, last.fileName) < 0) : [];
  if (!opts.allowOutOfOrder && last) refuseOutOfOrder(outOfOrder, last);
  const current = inProgressFile(
    files,
    history.find((e) => isInProgress(e)),
    schema,
  );
  const cut = untilIndex(pendingAll, files, opts.until);
  const toStart = pendingAll.slice(0, cut);
  if (opts.expectOne && toStart.length > 1) {
    throw new DirectoryError(
      `${toStart.length} migration files are pending (${toStart.map((f) => f.fileName).join(', ')}); --expect-one allows one`,
      'deploy them one at a time (`--until <name>`), or drop --expect-one',
      'more-than-one-pending',
      { pending: toStart.map((f) => f.fileName) },
    );
  }
  const actions = actionsFor(current, current ? live.get(current.name)! : undefined, toStart, opts.complete === true);
  const lastStarted = toStart.at(-1) ?? current;
  return {
    actions,
    applied: files.filter((f) => live.get(f.name)?.phase === 'completed'),
    inProgress: current,
    toStart,
    leftPending: pendingAll.slice(cut),
    outOfOrder: opts.allowOutOfOrder ? outOfOrder.filter((f) => toStart.includes(f)) : [],
    notInDirectory: [...live.values()].filter((e) => !e.baseline && !files.some((f) => f.name === e.name)),
    leftActive: lastStarted && !actions.some((a) => a.kind === 'complete' && a.file === lastStarted) ? lastStarted.name : null,
  };
}

/**
 * A migration still in progress is finished first (its start resumed if it stopped, then its
 * complete); then each pending file is started, and completed unless it is the last one (the
 * new app is deployed on it) or --complete says to complete that too. A complete that stopped
 * half-way always runs again: nothing can start before it is done.
 */
function actionsFor(current: DirectoryMigration | null, entry: HistoryEntry | undefined, toStart: DirectoryMigration[], completeLast: boolean): MigrateAction[] {
  const actions: MigrateAction[] = [];
  if (current && entry) {
    if (entry.phase === 'starting') actions.push({ kind: 'start', file: current, resume: true });
    if (entry.phase === 'completing' || toStart.length > 0 || completeLast) actions.push({ kind: 'complete', file: current, resume: entry.phase === 'completing' });
  }
  toStart.forEach((file, i) => {
    actions.push({ kind: 'start', file, resume: false });
    if (i < toStart.length - 1 || completeLast) actions.push({ kind: 'complete', file, resume: false });
  });
  return actions;
}
