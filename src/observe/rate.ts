/**
 * Rows per second of a counter from its samples over a sliding window, and the time left at that
 * rate: for backfill progress seen from outside the runner (metrics scrapes, the dashboard's polls).
 */
export class RateTracker {
  private readonly samples = new Map<string, { atMs: number; value: number }[]>();

  constructor(private readonly windowMs = 30_000) {}

  /** Record a sample; returns the rate over the window (undefined until two samples span time). */
  observe(key: string, value: number, atMs: number): number | undefined {
    const list = this.samples.get(key) ?? [];
    // A counter that went down was reset (a new migration, a rerun): start again.
    if (list.length && value < list[list.length - 1]!.value) list.length = 0;
    list.push({ atMs, value });
    while (list.length > 2 && atMs - list[1]!.atMs >= this.windowMs) list.shift();
    this.samples.set(key, list);
    return this.rate(key);
  }

  rate(key: string): number | undefined {
    const list = this.samples.get(key);
    if (!list || list.length < 2) return undefined;
    const first = list[0]!;
    const last = list[list.length - 1]!;
    const seconds = (last.atMs - first.atMs) / 1000;
    return seconds > 0 ? (last.value - first.value) / seconds : undefined;
  }
}

/** Seconds until `done` reaches `total` at `rate`; undefined when it cannot be told. */
export function etaSeconds(done: number, total: number, rate: number | undefined): number | undefined {
  if (done >= total) return 0;
  if (rate === undefined || rate <= 0) return undefined;
  return (total - done) / rate;
}
