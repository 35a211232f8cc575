import { InvalidInputError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/**
 * A duration of the command line: a number and a unit — `500ms`, `30s`, `2m` (or `2min`), `1h`;
 * a bare number is seconds. (src/lint's parseDuration reads PostgreSQL's settings, where a bare
 * number is milliseconds and `m` is not a unit: a different grammar.)
 */
export function parseDurationMs(text: string, field: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)?\s*$/i.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[(m[2] ?? 's').toLowerCase()]! : NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new InvalidInputError(`invalid duration "${text}"`, { field }, 'write a positive number with a unit: 500ms, 30s, 2m, 1h', { code: 'usage' });
  }
  return Math.round(ms);
}

/** 1500 → "1.5s", 120000 → "2m": for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000 || ms % 60_000 !== 0) return `${Math.round(ms / 100) / 10}s`;
  return `${ms / 60_000}m`;
}
