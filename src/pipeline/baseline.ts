import type pg from 'pg';
import { complete, type EngineOptions, start } from '../engine/lifecycle.js';
import { withRunnerLock } from '../exec/runner-lock.js';
import { checkNames } from '../migration/load.js';
import type { Migration } from '../migration/schema.js';
import { DirectoryError } from './errors.js';
import { isInProgress, isLive, readHistory } from './history-store.js';

export interface BaselineResult {
  migration: string;
  versionSchema: string;
  /** Tables of the schema that got a view in the version schema. */
  tables: number;
  /** Run again after it succeeded: the same baseline was already recorded. */
  alreadyDone: boolean;
}

/**
 * `tandem baseline <name>`: the schema as it is becomes the history's first migration. It is a
 * migration with no operations, run through the engine's own start and complete, so it gets what
 * every start makes and nothing else: its version schema, one view per table (the planner's
 * version-schema step, with the tables' grants), and no DDL on any table. Recorded as completed,
 * with `baseline = true`.
 *
 * Refused (exit 2, nothing changed) when the schema already has a migration that was not rolled
 * back: a baseline is a starting point, not something to insert into a history. A baseline
 * interrupted before it was recorded completed is finished by running the same command again.
 */
export async function baseline(client: pg.Client, name: string, opts: EngineOptions = {}): Promise<BaselineResult> {
  const schema = opts.schema ?? 'public';
  const migration: Migration = { name, operations: [] };
  checkNames(migration);
  return withRunnerLock(client, schema, opts.wait ?? false, async () => {
    const live = (await readHistory(client, schema)).filter(isLive);
    const same = live.length === 1 && live[0]!.baseline && live[0]!.name === name ? live[0]! : undefined;
    if (same?.phase === 'completed') return { migration: name, versionSchema: same.versionSchema, tables: await viewCount(client, same.versionSchema), alreadyDone: true };
    if (live.length > 0 && !same) {
      const inProgress = live.find(isInProgress);
      throw new DirectoryError(
        `schema "${schema}" already has ${live.length} migration${live.length === 1 ? '' : 's'} (latest: ${live.at(-1)!.name}${inProgress ? `, ${inProgress.name} ${inProgress.phase}` : ''})`,
        'a baseline starts a history: run it on a schema whose migrations are all rolled back, or none; to go on from here, use `tandem migrate`',
        'history-not-empty',
        { migrations: live.map((e) => e.name) },
      );
    }
    const started = await start(client, migration, { ...opts, source: { baseline: true } });
    await complete(client, opts);
    return { migration: name, versionSchema: started.versionSchema, tables: await viewCount(client, started.versionSchema), alreadyDone: false };
  });
}

async function viewCount(client: pg.Client, versionSchema: string): Promise<number> {
  const r = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_views WHERE schemaname = $1`, [versionSchema]);
  return r.rows[0]!.n;
}
