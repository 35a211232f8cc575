/**
 * Sticky routing of a key (a user id, a tenant id) to the old or the new version: pure, no I/O.
 *
 * A key hashes (with the migration's salt) to one of ROUTING_BUCKETS buckets; at `percent` the
 * buckets below `percent × 100` go to the new version. So:
 *   - the same key always gets the same side while the percentage holds (no state per key);
 *   - widening only moves keys from old to new (monotone): a key new at p is new at every p' > p;
 *   - each migration has its own salt, so the first 5% of one rollout are not the first 5% of the next.
 * The hash is FNV-1a over the UTF-16 code units of `salt + "\0" + key`, finished with murmur3's
 * fmix32 (FNV alone spreads short, similar keys poorly); any adapter in another language can
 * reproduce it from this description.
 */
export type Side = 'old' | 'new';

/** Resolution of the percentage: 0.01 points. */
export const ROUTING_BUCKETS = 10_000;

/** The key's bucket, 0 … ROUTING_BUCKETS - 1, for this salt. */
export function keyBucket(key: string, salt: string): number {
  let h = 0x811c9dc5;
  h = fnv1a(h, salt);
  h = Math.imul(h, 0x01000193) >>> 0; // the "\0" separator: ("ab","c") and ("a","bc") differ
  h = fnv1a(h, key);
  return fmix32(h) % ROUTING_BUCKETS;
}

/** The number of buckets routed to the new version at `percent` (clamped to 0 … 100). */
export function newBuckets(percent: number): number {
  if (!(percent > 0)) return 0;
  if (percent >= 100) return ROUTING_BUCKETS;
  return Math.round(percent * (ROUTING_BUCKETS / 100));
}

/** Which version the key gets at `percent` under this salt. */
export function routeKey(key: string, percent: number, salt: string): Side {
  return keyBucket(key, salt) < newBuckets(percent) ? 'new' : 'old';
}

function fnv1a(seed: number, text: string): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function fmix32(input: number): number {
  let h = input;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
