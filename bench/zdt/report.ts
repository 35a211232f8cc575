import type { BenchResult, OpResult, PhaseResult } from './run.js';

export const TARGETS = {
  maxLatencyMs: 100,
  minThroughputRatio: 0.8,
};

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ratio = (v: number | null) => (v === null ? '–' : `${v.toFixed(2)}×`);
const int = (v: number) => v.toLocaleString('en-US');

function ledgerCell(op: OpResult): string {
  return op.directions
    .map((d) => {
      if (d.error) return `${d.direction}: ERROR`;
      if (d.tableDropped !== undefined) return `${d.direction}: ${d.tableDropped ? 'table dropped' : 'TABLE STILL THERE'}`;
      const v = d.verify;
      if (!v) return `${d.direction}: –`;
      const bad = v.wrong + v.missing + v.unexpected;
      return `${d.direction}: ${bad === 0 ? 'ok' : `**${bad} bad**`} (${int(v.acknowledgedWrites)} writes)`;
    })
    .join('<br>');
}

function stallCell(op: OpResult): string {
  const p = op.plain;
  if (!p) return '–';
  if (p.error) return `error: ${p.error.split('\n')[0]}`;
  if (p.kind === 'metadata') return `metadata-only (max ${ms(p.maxMs)} ms${p.failed ? `, then ${int(p.failed)} old-version failures` : ''})`;
  if (p.kind === 'none') return `no lock on items (max ${ms(p.maxMs)} ms)`;
  return `${ms(p.maxMs)} ms (held ${ms(p.statementMs)} ms) → **${ratio(op.stallRatio)}**`;
}

function catalogCell(op: OpResult): string {
  const r = op.directions.find((d) => d.direction === 'rollback');
  if (!r) return '–';
  if (r.error) return 'ERROR';
  return r.catalogIdentical ? 'identical' : `**${r.catalogDiff.length} differences**`;
}

export function summaryTable(result: BenchResult): string {
  const lines = [
    '| operation | failed statements | wrong results | ledger | max ms (baseline) | p99 ms (baseline) | min throughput vs baseline | rollback catalog | plain statement: max client latency → ratio to tandem max |',
    '|---|---:|---:|---|---:|---:|---:|---|---|',
  ];
  for (const op of result.ops) {
    const errors = op.directions.filter((d) => d.error).map((d) => `${d.direction} error`);
    lines.push(
      `| ${op.key}${errors.length ? ` (**${errors.join(', ')}**)` : ''} | ${op.failed} | ${op.wrong} | ${ledgerCell(op)} | ${ms(op.tandemMaxMs)} (${ms(op.baselineMaxMs)}) | ${ms(op.tandemP99Ms)} (${ms(op.baselineP99Ms)}) | ${ratio(op.minRatio)} | ${catalogCell(op)} | ${stallCell(op)} |`,
    );
  }
  return lines.join('\n');
}

const phaseLabel = (p: PhaseResult) =>
  p.name === 'baseline' ? `baseline (${p.clients} clients)` : p.name === 'start' ? 'start + backfill' : p.name === 'both' ? 'both versions' : p.name;

export function phaseTable(result: BenchResult): string {
  const lines = [
    '| operation | direction | phase | clients | seconds | statements | failed | p50 ms | p99 ms | max ms | statements/s | vs baseline | slowest statement | longest lock wait seen | longest other time in server | bench event-loop max delay ms | autovacuum |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---|',
  ];
  for (const op of result.ops) {
    for (const d of op.directions) {
      for (const p of d.phases) {
        lines.push(
          `| ${op.key} | ${d.direction} | ${phaseLabel(p)} | ${p.clients} | ${p.seconds.toFixed(2)} | ${int(p.statements)} | ${p.failed}${p.wrong ? ` + ${p.wrong} wrong` : ''} | ` +
            `${ms(p.p50Ms)} | ${ms(p.p99Ms)} | ${ms(p.maxMs)} | ${p.perSecond.toFixed(0)} | ${ratio(p.ratio)} | ${p.worst} | ${p.lockWait ? `${ms(p.lockWait.ms)} ms behind ${p.lockWait.blocker}` : '–'} | ${p.serverWait ? `${ms(p.serverWait.ms)} ms, ${p.serverWait.event}` : '–'} | ${ms(p.loopDelayMaxMs)} | ${p.autovacuum.join(', ') || '–'} |`,
        );
      }
    }
  }
  return lines.join('\n');
}

export interface TargetVerdict {
  name: string;
  met: boolean;
  detail: string;
}

export function verdicts(result: BenchResult): TargetVerdict[] {
  const failing = (pred: (op: OpResult) => boolean) => result.ops.filter(pred).map((o) => o.key);
  const list = (keys: string[]) => (keys.length ? `not met by ${keys.join(', ')}` : 'met by every operation');
  const errored = failing((o) => o.directions.some((d) => d.error !== undefined));
  const failed = failing((o) => o.failed + o.wrong > 0 || o.directions.some((d) => d.error !== undefined));
  const ledger = failing((o) =>
    o.directions.some((d) => d.error !== undefined || (d.tableDropped !== undefined ? !d.tableDropped : !d.verify || d.verify.wrong + d.verify.missing + d.verify.unexpected > 0)),
  );
  const slow = failing((o) => o.tandemMaxMs > TARGETS.maxLatencyMs);
  const tput = failing((o) => o.minRatio !== null && o.minRatio < TARGETS.minThroughputRatio);
  const catalog = failing((o) => o.directions.some((d) => d.direction === 'rollback' && !d.catalogIdentical));
  const shape = failing((o) => o.directions.some((d) => d.leftovers.length + d.shapeProblems.length > 0));
  const out: TargetVerdict[] = [
    { name: '0 failed statements, both directions', met: failed.length === 0, detail: list(failed) },
    { name: 'every acknowledged write present with the right values', met: ledger.length === 0, detail: list(ledger) },
    { name: `max client latency ≤ ${TARGETS.maxLatencyMs} ms`, met: slow.length === 0, detail: list(slow) },
    { name: `throughput during migration ≥ ${TARGETS.minThroughputRatio}× baseline (every phase)`, met: tput.length === 0, detail: list(tput) },
  ];
  if (result.options.directions.includes('complete')) {
    out.push({ name: 'complete leaves the final schema the operation describes, nothing of tandem behind', met: shape.length === 0, detail: list(shape) });
  }
  if (result.options.directions.includes('rollback')) out.push({ name: 'rollback leaves the catalog identical', met: catalog.length === 0, detail: list(catalog) });
  if (errored.length) out.push({ name: 'runs completed', met: false, detail: `engine errors in ${errored.join(', ')}` });
  return out;
}

export function renderMarkdown(result: BenchResult, command?: string): string {
  const o = result.options;
  const parts = [
    `### ${result.rows.toLocaleString('en-US')} rows — ${result.server}`,
    '',
    ...(command ? ['```', command, '```', ''] : []),
    `Started ${result.startedAt}; total ${(result.seconds / 60).toFixed(1)} min (template load ${result.loadSeconds.toFixed(1)} s); ` +
      `${result.machine.cpus} CPUs, 1-minute load average ${result.machine.load.map((l) => l.toFixed(1)).join(' → ')} (per operation: ` +
      `${result.ops.map((op) => `${op.key} ${op.load.map((l) => l.toFixed(1)).join('→')}`).join(', ')}). ` +
      `${o.clientsPerVersion} clients per version, think time ${o.thinkMs} ms, baseline ${o.baselineSeconds} s per client count, ` +
      `both versions ${o.bothSeconds} s, ${o.afterSeconds} s of traffic after complete/rollback counted in that phase, ` +
      `start and complete/rollback windows at least ${o.minPhaseSeconds} s; engine defaults ` +
      `(lock timeout 50 ms${o.batchSize !== undefined ? `, batch size ${o.batchSize}` : ''}${o.batchDelayMs !== undefined ? `, batch delay ${o.batchDelayMs} ms` : ''}).`,
    '',
    'Targets:',
    '',
    ...verdicts(result).map((v) => `- ${v.met ? '✅' : '❌'} ${v.name}: ${v.detail}`),
    '',
    summaryTable(result),
    '',
    '<details><summary>Per phase</summary>',
    '',
    phaseTable(result),
    '',
    '</details>',
  ];
  const problems = result.ops.flatMap((op) =>
    op.directions.flatMap((d) => [
      ...(d.error ? [`- ${op.key} → ${d.direction}: ${d.error.split('\n')[0]}`] : []),
      ...d.phases.flatMap((p) => p.errors.map((e) => `- ${op.key} → ${d.direction} (${p.name}): ${e.split('\n')[0]}`)),
      ...d.phases.flatMap((p) => p.warnings.slice(0, 3).map((w) => `- ${op.key} → ${d.direction} (${p.name}), engine warning: ${w.split('\n')[0]}`)),
      ...(d.verify?.samples ?? []).map((s) => `- ${op.key} → ${d.direction} ledger: ${s}`),
      ...d.catalogDiff.slice(0, 5).map((s) => `- ${op.key} → rollback catalog: ${s}`),
      ...d.leftovers.map((s) => `- ${op.key} → complete left behind: ${s}`),
      ...d.shapeProblems.map((s) => `- ${op.key} → final schema: ${s}`),
    ]),
  );
  if (problems.length) parts.push('', 'Problems and engine warnings:', '', ...problems.slice(0, 60));
  return parts.join('\n');
}
