import type { StatusReport } from '../engine/status.js';

/** "1h 02m", "3m 20s", "12s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

type InProgress = NonNullable<StatusReport['inProgress']>;

/** `tandem status`'s backfill lines: progress, measured rate, ETA, and the live settings. */
export function statusBackfillLines(backfill: InProgress['backfill'], progress: InProgress['backfillProgress']): string[] {
  const controls = progress?.controls;
  const lines = backfill.map((b) => {
    const live = progress?.tables.find((t) => t.table === b.table);
    const total = Math.max(live?.estimatedTotal ?? 0, b.rowsDone);
    const pct = total > 0 ? ` of ~${total} (${Math.min(100, Math.floor((b.rowsDone / total) * 100))}%)` : '';
    const rate = !b.done && live?.rowsPerSecond ? `, ${Math.round(live.rowsPerSecond)} rows/s` : '';
    const eta = b.done ? ', done' : controls?.paused ? ', paused' : live?.etaSeconds != null ? `, ETA ${formatDuration(live.etaSeconds)}` : '';
    const backoff = b.done ? undefined : live?.slices.find((p) => !p.finished && p.backoffReason)?.backoffReason;
    return `  backfill ${b.table}: ${b.rowsDone} rows${pct} in ${b.batches} batches${rate}${eta}${backoff ? ` (backing off: ${backoff})` : ''}`;
  });
  if (controls && (controls.paused || controls.batchSize !== null || controls.delayMs !== null || controls.targetBatchMs !== null)) {
    const settings = [
      controls.paused ? 'PAUSED (`tandem backfill resume` to go on)' : 'running',
      ...(controls.batchSize !== null ? [`batch size ${controls.batchSize}`] : []),
      ...(controls.delayMs !== null ? [`delay ${controls.delayMs} ms`] : []),
      ...(controls.targetBatchMs !== null ? [`target batch ${controls.targetBatchMs} ms`] : []),
    ];
    lines.push(`  backfill settings: ${settings.join(', ')}${controls.updatedBy ? ` (set by ${controls.updatedBy})` : ''}`);
  }
  return lines;
}
