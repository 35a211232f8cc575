/** The markdown report of the write-cost benchmark: every phase against "before start", then each part's share. */
import type { Phase, SizeResult } from './run.js';
import type { WorkloadKind } from './table.js';

const x = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)}×`);
const us = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(1));
const pct = (n: number | undefined) => (n === undefined ? '' : `${(n * 100).toFixed(0)}%`);

function find(r: SizeResult, label: string, kind: WorkloadKind): Phase | undefined {
  return r.phases.find((p) => p.label === label && p.workload === kind);
}

/** A phase's throughput relative to the reference copy measured just before it: the machine's drift divides out. */
const rel = (p: Phase | undefined) => (p ? p.tps / p.referenceTps : undefined);
const tps = (r: SizeResult, label: string, kind: WorkloadKind) => rel(find(r, label, kind));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a / b);
const mean = (...v: (number | undefined)[]) => {
  const d = v.filter((n): n is number => n !== undefined);
  return d.length ? d.reduce((s, n) => s + n, 0) / d.length : undefined;
};

/** The target of the issue: ≥ 0.85× on a narrow table, ≥ 0.7× on a 50-column one. */
export const targetFor = (columns: number) => (columns <= 5 ? 0.85 : 0.7);

export interface Parts {
  kind: WorkloadKind;
  oldActive: number | undefined;
  newActive: number | undefined;
  /** Twin (extra columns, compact heap, no trigger) / before. */
  columns: number | undefined;
  /** Trigger disabled on the migrated table / twin: what the backfill left (bloat, dead tuples). */
  aftermath: number | undefined;
  /** Enabled / disabled, adjacent phases. */
  trigger: number | undefined;
  /** New version through the view / writing the table directly. */
  view: number | undefined;
  afterVacuumOld: number | undefined;
  afterVacuumNew: number | undefined;
  triggerAfterVacuum: number | undefined;
  /** Server CPU µs per transaction: the old version while active, and the trigger's own (enabled − disabled). */
  cpuBefore: number | undefined;
  cpuActive: number | undefined;
  cpuTrigger: number | undefined;
}

export function parts(r: SizeResult, kind: WorkloadKind): Parts {
  const before = tps(r, 'before start', kind);
  const on = mean(tps(r, 'active, old version', kind), tps(r, 'active, old version, trigger enabled again', kind));
  const off = tps(r, 'active, old version, trigger disabled', kind);
  const onV = mean(tps(r, 'active after VACUUM, old version', kind), tps(r, 'active after VACUUM, old version, trigger enabled again', kind));
  const offV = tps(r, 'active after VACUUM, old version, trigger disabled', kind);
  return {
    kind,
    oldActive: ratio(tps(r, 'active, old version', kind), before),
    newActive: ratio(tps(r, 'active, new version (view)', kind), before),
    columns: ratio(tps(r, 'twin: extra columns, no trigger', kind), before),
    aftermath: ratio(off, tps(r, 'twin: extra columns, no trigger', kind)),
    trigger: ratio(on, off),
    view: ratio(tps(r, 'active, new version (view)', kind), tps(r, 'active, new version (table, no view)', kind)),
    afterVacuumOld: ratio(tps(r, 'active after VACUUM, old version', kind), before),
    afterVacuumNew: ratio(tps(r, 'active after VACUUM, new version (view)', kind), before),
    triggerAfterVacuum: ratio(onV, offV),
    ...cpuParts(r, kind),
  };
}

function cpuParts(r: SizeResult, kind: WorkloadKind): Pick<Parts, 'cpuBefore' | 'cpuActive' | 'cpuTrigger'> {
  const cpu = (label: string) => find(r, label, kind)?.cpuMicros;
  const on = mean(cpu('active, old version'), cpu('active, old version, trigger enabled again'));
  const off = cpu('active, old version, trigger disabled');
  return { cpuBefore: cpu('before start'), cpuActive: on, cpuTrigger: on !== undefined && off !== undefined ? on - off : undefined };
}

export function renderMarkdown(results: SizeResult[], meta: { driver: string; clients: number; seconds: number; workloads: WorkloadKind[] }): string {
  const out: string[] = [];
  out.push(`# Write throughput while a migration is active`, '');
  out.push(`Driver: ${meta.driver}; ${meta.clients} clients, ${meta.seconds} s per phase. Ratios are against "before start" of the same workload in the same run.`, '');
  for (const r of results) {
    out.push(`## ${r.columns} columns, ${r.rows.toLocaleString('en-US')} rows (PostgreSQL ${r.server}, autovacuum ${r.autovacuum}, synchronous_commit ${r.synchronousCommit})`, '');
    out.push(
      `start (with backfill): ${r.backfillSeconds.toFixed(1)} s${r.fillfactor === undefined ? '' : ` (fillfactor ${r.fillfactor} set just before)`}; heap ${r.heapMB.before.toFixed(0)} MB before start, ${r.heapMB.afterBackfill.toFixed(0)} MB after the backfill, ${r.heapMB.afterVacuum.toFixed(0)} MB after VACUUM.`,
      '',
    );
    out.push(
      '| phase | workload | tx/s | reference tx/s | × before (raw) | × before (drift-corrected) | server CPU µs/tx | × before (CPU) | HOT | heap MB | dead tuples | autovacuum seen |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const p of r.phases) {
      const before = find(r, 'before start', p.workload);
      out.push(
        `| ${p.label} | ${p.workload} | ${p.tps.toFixed(0)} | ${p.referenceTps.toFixed(0)} | ${x(ratio(p.tps, before?.tps))} | ${x(ratio(rel(p), rel(before)))} | ${p.cpuMicros?.toFixed(1) ?? ''} | ${x(ratio(before?.cpuMicros, p.cpuMicros))} | ${pct(p.hot)} | ${p.heapMB.toFixed(0)} | ${p.deadTuples} | ${p.autovacuumSeen ? 'yes' : ''} |`,
      );
    }
    out.push('', `Parts (target while active: ≥ ${targetFor(r.columns)}× through each version):`, '');
    out.push(
      '| workload | old version active | new version active | extra columns (twin / before) | backfill aftermath (trigger off / twin) | trigger (on / off) | trigger share of the loss | view (view / table) | after VACUUM: old | after VACUUM: new | trigger after VACUUM | server CPU µs/tx before → active | trigger CPU µs/tx |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const kind of meta.workloads) {
      const p = parts(r, kind);
      out.push(
        `| ${kind} | ${x(p.oldActive)} | ${x(p.newActive)} | ${x(p.columns)} | ${x(p.aftermath)} | ${x(p.trigger)} | ${pct(share(p.trigger, p.oldActive))} | ${x(p.view)} | ${x(p.afterVacuumOld)} | ${x(p.afterVacuumNew)} | ${x(p.triggerAfterVacuum)} | ${us(p.cpuBefore)} → ${us(p.cpuActive)} | ${us(p.cpuTrigger)} |`,
      );
    }
    out.push('');
  }
  out.push(
    'Drift-corrected: each phase is divided by an untouched copy of the table (same workload) measured just before it, so the other tenants of the machine divide out; the parts use these figures.',
    '',
    'The trigger share of the loss is log(trigger on/off) / log(old version active/before): the part of the slowdown the trigger explains on its own (can exceed 100% or go negative within noise).',
  );
  return out.join('\n');
}

/** How much of the total slowdown one factor explains, on a log scale (the factors multiply). */
function share(factor: number | undefined, total: number | undefined): number | undefined {
  if (factor === undefined || total === undefined || total >= 1) return undefined;
  return Math.log(factor) / Math.log(total);
}
