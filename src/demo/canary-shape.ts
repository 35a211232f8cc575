/**
 * The canary demo's two migrations and the traffic shapes around them.
 *   run 1: the demo's migration (rename + retype + NOT NULL): the new version is healthy.
 *   run 2: on the shape run 1 completed, a CHECK score < 900 that the new version's application
 *          violates (it writes scores up to 999): about one write in ten fails on the new version.
 */
import { Ledger, type TrafficShape } from '../traffic/workload.js';
import { demoMigration } from './run-demo.js';
import { demoSeedRow, demoShape } from './traffic.js';

export const healthyMigration = demoMigration;

export const failingMigration = {
  name: 'demo_score_below_900',
  operations: [{ alter_column: { table: 'users', column: 'score', check: { name: 'score_below_900', constraint: 'score < 900' }, up: 'LEAST(score, 899)', down: 'score' } }],
};

export const versionSchemaOf = (m: { name: string }) => `public_${m.name}`;

/** Run 2's shapes: both have run 1's new columns; the new version's view caps nothing, its CHECK refuses. */
export const failingShape: TrafficShape = {
  oldTable: 'users',
  newTable: 'users',
  oldColumns: demoShape.newColumns,
  newColumns: demoShape.newColumns,
  // The mirror of up (LEAST(score, 899)) and down (score).
  toNew: (o) => ({ ...o, score: Math.min(Number(o['score']), 899) }),
  toOld: (n) => ({ ...n }),
  sync: { watched: { old: ['score'], new: ['score'] }, derived: { old: ['score'], new: ['score'] } },
  seedRow: (id) => demoShape.toNew(demoSeedRow(id)),
  appPrefix: 'demo-app-',
};

/** Run 2's ledger: what run 1 left (as run 1's new version sees it) is what run 2's old version must see. */
export function carryOver(previous: Ledger, seedRows: number): Ledger {
  const next = new Ledger(failingShape, seedRows);
  for (const id of previous.entries.keys()) {
    const row = previous.expected(id, 'new');
    next.entries.set(id, row === null ? null : { writer: 'old', row });
  }
  return next;
}
