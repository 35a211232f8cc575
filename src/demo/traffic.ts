/**
 * The demo's application traffic: the one traffic generator (src/traffic/workload.ts) on the
 * demo's `users` table, in the shapes of the old version (user_name, score as text, email
 * nullable) and of the new one (display_name, score as integer, email NOT NULL).
 */
import type { Row, TrafficShape } from '../traffic/workload.js';

/** The seed rows as the demo loads them (the SQL in run-demo.ts), as the old version sees them. */
export function demoSeedRow(id: number): Row {
  return { user_name: `user${id}`, score: String(id % 1000), email: id % 5 === 0 ? null : `user${id}@example.com` };
}

export const demoShape: TrafficShape = {
  oldTable: 'users',
  newTable: 'users',
  oldColumns: [
    { name: 'user_name', gen: (g) => `old-${g.tag}` },
    { name: 'score', gen: (g) => String((g.n * 7) % 1000) },
    // The old version may leave email NULL; `up` gives the new version 'unknown'.
    { name: 'email', gen: (g) => (g.n % 8 === 1 ? null : `${g.tag}@example.com`) },
  ],
  newColumns: [
    { name: 'display_name', gen: (g) => `new-${g.tag}` },
    { name: 'score', gen: (g) => (g.n * 7) % 1000 },
    { name: 'email', gen: (g) => `${g.tag}@example.com` },
  ],
  // The JavaScript mirror of the demo migration's up (old → new) and down (new → old).
  toNew: (o) => ({ display_name: o['user_name']!, score: Number(o['score']), email: o['email'] ?? 'unknown' }),
  toOld: (n) => ({ user_name: n['display_name']!, score: String(n['score']), email: n['email']! }),
  // score and email are shadowed; user_name → display_name is a rename, nothing computes it.
  sync: { watched: { old: ['score', 'email'], new: ['score', 'email'] }, derived: { old: ['score', 'email'], new: ['score', 'email'] } },
  seedRow: demoSeedRow,
  appPrefix: 'demo-app-',
};
