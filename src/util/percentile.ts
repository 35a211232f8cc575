/**
 * Percentiles of latency samples, by the nearest-rank method: the p-th percentile is the smallest
 * sample with at least p% of the samples at or below it (so p99 of 100 samples is the 99th
 * smallest, and p100 the maximum). The one definition used by the demo, the benches and the tests.
 */

/** Nearest-rank percentile of `values` (any order; not modified); 0 when there are none. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return 0;
  return percentileOfSorted(sortedCopy(values), p);
}

/** Several percentiles of the same samples, sorting once: `percentiles(xs, [50, 99])`. */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  if (values.length === 0) return ps.map(() => 0);
  const sorted = sortedCopy(values);
  return ps.map((p) => percentileOfSorted(sorted, p));
}

/** Nearest-rank percentile of samples already sorted ascending. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be between 0 and 100, got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length); // 1-based; 0 only for p = 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** The largest sample (0 when there are none), without the argument-count limit of Math.max(...xs). */
export function maxOf(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  return max;
}

function sortedCopy(values: ArrayLike<number>): Float64Array {
  // A typed array sorts numerically (a plain array's default sort compares strings).
  return Float64Array.from(values).sort();
}
