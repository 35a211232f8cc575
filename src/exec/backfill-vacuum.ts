import type pg from 'pg';
import type { BackfillStep } from '../plan/types.js';
import { qualified } from '../sql/ident.js';
import { openSibling } from './backfill-connect.js';
import type { RunContext } from './executor.js';

/**
 * Vacuum behind the backfill: every `vacuumBehindPercent` % (default 10) of the table's rows updated, a plain
 * VACUUM (never FULL) of the table runs on a connection of its own, outside any transaction, one
 * at a time, not awaited by the batches. The old row versions the backfill leaves behind are
 * then reused by the next batches' new versions, instead of each one going to a new page at the
 * end of the heap: the table grows by about one interval instead of doubling. Only when the role
 * may vacuum the table (it has its owner's privileges; MAINTAIN on PostgreSQL 17+): a VACUUM it
 * may not run is only a warning, so it is not attempted.
 */
/**
 * Measured on 1M rows (docs/scale.md): every 10 % the heap grew 1.4–1.6× instead of 2.3×, at the
 * same or a better rate. Small tables are not worth it: at least this many rows between two.
 */
export const DEFAULT_VACUUM_BEHIND_PERCENT = 10;
const MIN_ROWS_BETWEEN = 100_000;

export class VacuumBehind {
  private sinceLast = 0;
  private running: Promise<void> | undefined;
  private client: pg.Client | undefined;
  private closed = false;
  runs = 0;

  private constructor(
    private readonly ctx: RunContext,
    private readonly table: string,
    private readonly everyRows: number,
  ) {}

  static async open(ctx: RunContext, step: BackfillStep): Promise<VacuumBehind> {
    const percent = ctx.options.vacuumBehindPercent ?? DEFAULT_VACUUM_BEHIND_PERCENT;
    const table = qualified(step.schema, step.table);
    if (percent <= 0 || !(await mayVacuum(ctx.client, table))) return new VacuumBehind(ctx, table, 0);
    return new VacuumBehind(ctx, table, Math.max(MIN_ROWS_BETWEEN, Math.round((step.estimatedRows * percent) / 100)));
  }

  afterBatch(rows: number): void {
    if (this.everyRows <= 0 || this.closed) return;
    this.sinceLast += rows;
    if (this.sinceLast < this.everyRows || this.running) return;
    this.sinceLast = 0;
    this.running = this.vacuum().finally(() => (this.running = undefined));
  }

  private async vacuum(): Promise<void> {
    try {
      this.client ??= await openSibling(this.ctx.client, 'tandem-vacuum');
      await this.client.query(`VACUUM (SKIP_LOCKED) ${this.table}`);
      this.runs++;
    } catch (err) {
      this.ctx.reporter.warn(`vacuum behind the backfill of ${this.table} failed (the backfill goes on): ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.running;
    await this.client?.end().catch(() => undefined);
  }
}

async function mayVacuum(client: pg.Client, table: string): Promise<boolean> {
  const r = await client
    .query<{ ok: boolean }>(
      `SELECT pg_has_role(c.relowner, 'USAGE')
            OR (current_setting('server_version_num')::int >= 170000 AND has_table_privilege(c.oid, 'MAINTAIN')) AS ok
       FROM pg_class c WHERE c.oid = $1::regclass`,
      [table],
    )
    .catch(async () => client.query<{ ok: boolean }>(`SELECT pg_has_role(c.relowner, 'USAGE') AS ok FROM pg_class c WHERE c.oid = $1::regclass`, [table]));
  return r.rows[0]?.ok === true;
}
