import { formatDuration } from './throttle-format.js';

/**
 * The rate of a running count (rows done), over a sliding window of its recent values: what the
 * progress line shows, and the ETA from it. O(1) amortised per update, no I/O.
 */
export class RateMeter {
  private readonly points: { at: number; done: number }[] = [];
  constructor(private readonly windowMs = 10_000) {}

  add(done: number, at: number = performance.now()): void {
    const last = this.points[this.points.length - 1];
    if (last && done < last.done) this.points.length = 0; // a new count (another table, a restart)
    this.points.push({ at, done });
    while (this.points.length > 2 && at - this.points[0]!.at > this.windowMs) this.points.shift();
  }

  /** Rows per second over the window; 0 until two points a few ms apart are known. */
  rowsPerSecond(): number {
    const first = this.points[0];
    const last = this.points[this.points.length - 1];
    if (!first || !last || last.at - first.at < 50) return 0;
    return ((last.done - first.done) * 1000) / (last.at - first.at);
  }

  /** " | 1234 rows/s | ETA 3m 20s", or "" before a rate is measured. */
  describe(done: number, total: number): string {
    const rate = this.rowsPerSecond();
    if (rate <= 0) return '';
    return ` | ${Math.round(rate)} rows/s | ETA ${formatDuration(Math.max(0, total - done) / rate)}`;
  }
}
