/**
 * The traffic ledger's model of the narrowed sync trigger (src/traffic/workload.ts, TrafficShape
 * .sync): an update naming no watched column leaves the other version's derived columns as they
 * were, and shows the rest as mirrored; any other write mirrors the whole row.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ledger, type TrafficShape } from '../../src/traffic/workload.js';

// note is shadowed (NOT NULL in the new version, up: coalesce(note, 'none')); label is shared.
const shape: TrafficShape = {
  oldTable: 'items',
  newTable: 'items',
  oldColumns: [],
  newColumns: [],
  toNew: (o) => ({ ...o, note: o['note'] ?? 'none' }),
  toOld: (n) => ({ ...n }),
  seedRow: (id) => ({ label: `L${id}`, note: null }),
  sync: { watched: { old: ['note'], new: ['note'] }, derived: { old: ['note'], new: ['note'] } },
};

test('an update of an unwatched column keeps the other version’s derived columns; a watched one mirrors the row', () => {
  const ledger = new Ledger(shape, 10);
  assert.deepEqual(ledger.expected(1, 'new'), { label: 'L1', note: 'none' });
  // The new version changes only the shared label: the old version still sees its NULL note.
  ledger.write(1, 'new', { label: 'N1', note: 'none' }, ['label']);
  assert.deepEqual(ledger.expected(1, 'old'), { label: 'N1', note: null });
  // Then the old version changes the label again: the new version's note is still 'none'.
  ledger.write(1, 'old', { label: 'O1', note: null }, ['label']);
  assert.deepEqual(ledger.expected(1, 'new'), { label: 'O1', note: 'none' });
  // A write of the watched column mirrors the whole row.
  ledger.write(1, 'new', { label: 'O1', note: 'set' }, ['note']);
  assert.deepEqual(ledger.expected(1, 'old'), { label: 'O1', note: 'set' });
  // Inserts (no column list) always mirror.
  ledger.write(11, 'old', { label: 'I', note: null });
  assert.deepEqual(ledger.expected(11, 'new'), { label: 'I', note: 'none' });
  // Without `sync` every write mirrors.
  const { sync: _sync, ...withoutSync } = shape;
  const always = new Ledger(withoutSync, 10);
  always.write(1, 'new', { label: 'N1', note: 'none' }, ['label']);
  assert.deepEqual(always.expected(1, 'old'), { label: 'N1', note: 'none' });
});
