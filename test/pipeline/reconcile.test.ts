// @tier fast
/**
 * What `migrate` decides from a directory and a history, and the names `pull` gives: pure
 * functions, no database.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checksum } from '../../src/engine/lifecycle.js';
import { parseMigration } from '../../src/migration/load.js';
import type { DirectoryMigration } from '../../src/pipeline/directory.js';
import { DirectoryError } from '../../src/pipeline/errors.js';
import type { HistoryEntry } from '../../src/pipeline/history-store.js';
import { latestFromDirectory } from '../../src/pipeline/latest.js';
import { pullNames } from '../../src/pipeline/pull.js';
import { type MigrateOptions, planMigrate } from '../../src/pipeline/reconcile.js';
import { renderedChecksum } from '../../src/pipeline/render.js';

function file(fileName: string, sum = `sum-${fileName}`, name = fileName.replace(/\.[a-z]+$/, '')): DirectoryMigration {
  const migration = parseMigration({ operations: [{ drop_table: { name: `t_${name}` } }] }, `/d/${fileName}`, name);
  return { file: `/d/${fileName}`, fileName, name, checksum: sum, migration };
}

function entry(f: DirectoryMigration, phase: HistoryEntry['phase'], over: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    id: String(Math.random()),
    name: f.name,
    phase,
    versionSchema: `public_${f.name}`,
    fileName: f.fileName,
    fileChecksum: f.checksum,
    checksum: checksum(f.migration),
    baseline: false,
    migration: { name: f.name, operations: f.migration.operations.map((o) => ({ [o.kind]: o.body })) },
    createdBy: 'owner',
    createdAt: new Date(0),
    startedAt: new Date(0),
    completedAt: phase === 'completed' ? new Date(0) : null,
    rolledBackAt: null,
    ...over,
  };
}

const plan = (files: DirectoryMigration[], history: HistoryEntry[], opts?: MigrateOptions) => planMigrate(files, history, 'public', checksum, opts);

const steps = (p: ReturnType<typeof planMigrate>) => p.actions.map((a) => `${a.kind} ${a.file.name}${a.resume ? ' (resume)' : ''}`);

function refusedWith(code: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof DirectoryError && err.code === code && err.exitCode === 2;
}

describe('planMigrate', () => {
  const [a, b, c, d] = ['0001_a.yaml', '0002_b.yaml', '0003_c.json', '0004_d.yaml'].map((n) => file(n));

  test('from empty: start and complete each file but the last, left active; --complete completes it too', () => {
    const p = plan([a!, b!, c!], []);
    assert.deepEqual(steps(p), ['start 0001_a', 'complete 0001_a', 'start 0002_b', 'complete 0002_b', 'start 0003_c']);
    assert.equal(p.leftActive, '0003_c');
    assert.deepEqual(steps(plan([a!], [], { complete: true })), ['start 0001_a', 'complete 0001_a']);
    assert.equal(plan([a!], [], { complete: true }).leftActive, null);
  });

  test('a migration left active is completed before the next starts; a stopped start or complete is resumed', () => {
    assert.deepEqual(steps(plan([a!, b!, c!], [entry(a!, 'completed'), entry(b!, 'active')])), ['complete 0002_b', 'start 0003_c']);
    assert.deepEqual(steps(plan([a!, b!], [entry(a!, 'completed'), entry(b!, 'active')])), []);
    assert.deepEqual(steps(plan([a!, b!], [entry(a!, 'completed'), entry(b!, 'starting')])), ['start 0002_b (resume)']);
    assert.deepEqual(steps(plan([a!, b!, c!], [entry(a!, 'completed'), entry(b!, 'starting')])), ['start 0002_b (resume)', 'complete 0002_b', 'start 0003_c']);
    assert.deepEqual(steps(plan([a!, b!], [entry(a!, 'completed'), entry(b!, 'completing')])), ['complete 0002_b (resume)']);
    // A rolled-back migration is pending again.
    assert.deepEqual(steps(plan([a!, b!], [entry(a!, 'completed'), entry(b!, 'rolled_back')])), ['start 0002_b']);
  });

  test('--until stops after the named migration (by name or file name); --expect-one refuses two pending', () => {
    const p = plan([a!, b!, c!, d!], [entry(a!, 'completed')], { until: '0003_c.json' });
    assert.deepEqual(steps(p), ['start 0002_b', 'complete 0002_b', 'start 0003_c']);
    assert.deepEqual(
      p.leftPending.map((f) => f.name),
      ['0004_d'],
    );
    assert.throws(() => plan([a!, b!], [], { until: 'nope' }), refusedWith('unknown-migration'));
    assert.throws(() => plan([a!, b!, c!], [entry(a!, 'completed')], { expectOne: true }), refusedWith('more-than-one-pending'));
    assert.deepEqual(steps(plan([a!, b!], [entry(a!, 'completed')], { expectOne: true })), ['start 0002_b']);
  });

  test('drift: the file bytes differ from the recorded ones (a pulled rendering of the stored document is accepted)', () => {
    const changed = { ...b!, checksum: 'other' };
    assert.throws(
      () => plan([a!, changed], [entry(a!, 'completed'), entry(b!, 'completed')]),
      (err: unknown) => refusedWith('migration-drift')(err) && /0002_b\.yaml/.test((err as Error).message) && /sum-0002_b\.y/.test((err as Error).message),
    );
    const e = entry(b!, 'completed');
    const pulled = { ...b!, checksum: renderedChecksum(e.migration, 'yaml') };
    assert.deepEqual(steps(plan([a!, pulled], [entry(a!, 'completed'), e])), []);
    // Applied without a file (no recorded checksum): the migration's content is compared.
    assert.deepEqual(steps(plan([a!, changed], [entry(a!, 'completed'), entry(b!, 'completed', { fileChecksum: null })])), []);
  });

  test('out of order: refused, or applied with allowOutOfOrder; an in-progress migration without a file is refused', () => {
    assert.throws(() => plan([a!, b!, c!], [entry(a!, 'completed'), entry(c!, 'completed')]), refusedWith('out-of-order'));
    const p = plan([a!, b!, c!], [entry(a!, 'completed'), entry(c!, 'completed')], { allowOutOfOrder: true });
    assert.deepEqual(steps(p), ['start 0002_b']);
    assert.deepEqual(
      p.outOfOrder.map((f) => f.name),
      ['0002_b'],
    );
    assert.throws(() => plan([a!], [entry(a!, 'completed'), entry(b!, 'active')]), refusedWith('in-progress-not-in-directory'));
    // Applied migrations without a file are only reported.
    assert.deepEqual(
      plan([b!], [entry(a!, 'completed'), entry(b!, 'completed')]).notInDirectory.map((e) => e.name),
      ['0001_a'],
    );
  });
});

describe('pullNames and latestFromDirectory', () => {
  const [a, b, c] = ['0001_a.yaml', '0002_b.yaml', '0003_c.yaml'].map((n) => file(n));

  test('recorded file names when free and in order; else the migration name; else after the previous file', () => {
    const history = [entry(a!, 'completed'), entry(b!, 'completed'), entry(c!, 'active')];
    assert.deepEqual(
      pullNames(history, [b!], new Set(['0002_b.yaml']), '.yaml').map((p) => p.fileName),
      ['0001_a.yaml', '0003_c.yaml'],
    );
    const unnamed = [entry(a!, 'completed', { fileName: null }), entry(b!, 'completed')];
    assert.deepEqual(
      pullNames(unnamed, [b!], new Set(['0002_b.yaml']), '.json').map((p) => p.fileName),
      ['0001_a.json'],
    );
    // A name that would sort after its successor gets the previous file's stem.
    const late = file('zz.yaml', 'x', 'zz');
    const hist = [entry(a!, 'completed'), entry(late, 'completed', { fileName: null }), entry(c!, 'completed')];
    assert.deepEqual(
      pullNames(hist, [a!, c!], new Set(['0001_a.yaml', '0003_c.yaml']), '.yaml').map((p) => p.fileName),
      ['0001_a_zz.yaml'],
    );
    // Baselines and rolled-back migrations are not pulled.
    assert.deepEqual(pullNames([entry(a!, 'completed', { baseline: true }), entry(b!, 'rolled_back')], [], new Set(), '.yaml'), []);
  });

  test('latest from files: the last file, its version_schema when it sets one', () => {
    assert.deepEqual(latestFromDirectory([], 'app'), { versionSchema: 'app', migration: null, phase: null });
    assert.equal(latestFromDirectory([a!, b!], 'public').versionSchema, 'public_0002_b');
    const named = { ...b!, migration: { ...b!.migration, versionSchema: 'v2' } };
    assert.equal(latestFromDirectory([a!, named], 'public').versionSchema, 'public_v2');
  });
});
