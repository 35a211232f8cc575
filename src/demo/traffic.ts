import type pg from 'pg';

/** Latency samples and failures of simulated application clients. */
export class TrafficStats {
  readonly latencies: number[] = [];
  statements = 0;
  failed = 0;
  readonly errors: string[] = [];

  record(ms: number): void {
    this.statements++;
    this.latencies.push(ms);
  }

  fail(err: unknown): void {
    this.statements++;
    this.failed++;
    if (this.errors.length < 5) this.errors.push((err as Error).message);
  }

  percentile(p: number): number {
    if (this.latencies.length === 0) return 0;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }

  max(): number {
    let m = 0;
    for (const v of this.latencies) if (v > m) m = v;
    return m;
  }
}

/** What a row must look like once the migration is complete, per acknowledged write. */
export interface Expected {
  display_name: string;
  score: number;
  email: string;
}

export type Version = 'old' | 'new';

export interface ClientSpec {
  client: pg.Client;
  version: Version;
  /** Of the seeded rows this client only updates ids with id % of === index, so the ledger needs no cross-client ordering. */
  index: number;
  of: number;
  maxSeedId: number;
  pauseMs: number;
}

/** The final shape a write by either version must have after complete. */
function expectedFromOld(name: string, score: string, email: string | null): Expected {
  return { display_name: name, score: Number(score), email: email ?? 'unknown' };
}

/**
 * One simulated application instance: selects, inserts, updates and upserts with RETURNING,
 * through its version's view of the table. Every acknowledged write goes into the ledger.
 */
export async function runClient(spec: ClientSpec, stats: TrafficStats, ledger: Map<number, Expected>, shouldStop: () => boolean): Promise<void> {
  const { client, version } = spec;
  const mine: number[] = [];
  let n = 0;
  const pickSeed = () => Math.floor(Math.random() * (spec.maxSeedId / spec.of)) * spec.of + spec.index;
  const timed = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    const t0 = performance.now();
    try {
      const r = await fn();
      stats.record(performance.now() - t0);
      return r;
    } catch (err) {
      stats.fail(err);
      return undefined;
    }
  };
  while (!shouldStop()) {
    n++;
    const kind = n % 4;
    const tag = `${version}-${spec.index}-${n}`;
    const score = (n * 7) % 1000;
    if (kind === 0) {
      await timed(() => client.query(version === 'old' ? 'SELECT user_name, score, email FROM users WHERE id = $1' : 'SELECT display_name, score, email FROM users WHERE id = $1', [pickSeed()]));
    } else if (kind === 1) {
      // Insert with RETURNING; ids come from the sequence, so keep only ids this client owns.
      const email = version === 'old' && n % 8 === 1 ? null : `${tag}@example.com`;
      const r = await timed(() =>
        client.query<{ id: string }>(
          version === 'old'
            ? 'INSERT INTO users (user_name, score, email) VALUES ($1, $2::text, $3) RETURNING id'
            : 'INSERT INTO users (display_name, score, email) VALUES ($1, $2::int, $3) RETURNING id',
          [tag, String(score), email],
        ),
      );
      if (r) {
        const id = Number(r.rows[0]!.id);
        ledger.set(id, version === 'old' ? expectedFromOld(tag, String(score), email) : { display_name: tag, score, email: email! });
        mine.push(id);
      }
    } else if (kind === 2) {
      // Update a pre-existing row of this client's share (possibly not backfilled yet).
      const id = pickSeed();
      const email = `${tag}@example.com`;
      const r = await timed(() =>
        client.query(
          version === 'old'
            ? 'UPDATE users SET user_name = $2, score = $3::text, email = $4 WHERE id = $1 RETURNING id'
            : 'UPDATE users SET display_name = $2, score = $3::int, email = $4 WHERE id = $1 RETURNING id',
          [id, tag, String(score), email],
        ),
      );
      if (r && r.rowCount === 1) ledger.set(id, { display_name: tag, score, email });
    } else if (mine.length > 0) {
      // Upsert of an own row through ON CONFLICT, with RETURNING.
      const id = mine[Math.floor(Math.random() * mine.length)]!;
      const r = await timed(() =>
        client.query(
          version === 'old'
            ? `INSERT INTO users (id, user_name, score, email) VALUES ($1, $2, $3::text, $4)
               ON CONFLICT (id) DO UPDATE SET user_name = EXCLUDED.user_name, score = EXCLUDED.score, email = EXCLUDED.email RETURNING id`
            : `INSERT INTO users (id, display_name, score, email) VALUES ($1, $2, $3::int, $4)
               ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, score = EXCLUDED.score, email = EXCLUDED.email RETURNING id`,
          [id, tag, String(score), `${tag}@example.com`],
        ),
      );
      if (r) ledger.set(id, { display_name: tag, score, email: `${tag}@example.com` });
    }
    if (spec.pauseMs > 0) await new Promise((res) => setTimeout(res, spec.pauseMs));
  }
}
