/**
 * A fixed latency histogram, so that health from many instances adds up (bucket counts sum) and
 * its size is bounded whatever the traffic. Bounds grow by 25% from 0.1 ms to about 60 s; the
 * last bucket holds everything above. A percentile read from it is the upper bound of the bucket
 * it falls in (at most 25% above the true value), capped by the exact maximum.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let b = 0.1; b < 60_000; b *= 1.25) bounds.push(Number(b.toPrecision(4)));
  return bounds;
})();

/** Number of buckets: one per bound, plus the overflow bucket. */
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** Index of the bucket a latency falls in: the first bound at or above it. */
export function latencyBucket(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BOUNDS_MS.length; // the overflow bucket
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= LATENCY_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Nearest-rank percentile (as src/util/percentile.ts defines it) over bucket counts; 0 with no samples. */
export function histogramPercentile(counts: ArrayLike<number>, p: number, maxMs: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return Math.min(LATENCY_BOUNDS_MS[i] ?? maxMs, maxMs);
  }
  return maxMs;
}

/** Element-wise sum of histograms (of any lengths). */
export function addHistograms(into: number[], from: ArrayLike<number>): number[] {
  for (let i = 0; i < from.length; i++) into[i] = (into[i] ?? 0) + from[i]!;
  return into;
}
