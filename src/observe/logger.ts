import { pino, type Logger } from 'pino';
import type { Reporter } from '../exec/options.js';
import { onEvent, type StampedEvent } from './events.js';
import { redactDeep, redactSecrets } from './redact.js';

/**
 * `--log-format json`: one JSON object per line on stderr (stdout keeps the command's result),
 * from pino: one entry per step attempt, lock wait, backfill batch, phase change and command end,
 * plus the messages the terminal reporter would print. URLs lose their password and query string.
 */
export function jsonLogger(destination: number | NodeJS.WritableStream = 2): Logger {
  const stream = typeof destination === 'number' ? pino.destination({ dest: destination, sync: true }) : destination;
  return pino({ base: { app: 'tandem', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, stream);
}

/** The reporter of a run whose log format is json: the same calls as the terminal's, as log entries. */
export function jsonReporter(logger: Logger): Reporter {
  return {
    step: (phase, description) => logger.info({ event: 'step', phase, description: redactSecrets(description) }, 'step'),
    info: (message) => logger.info({ event: 'info' }, redactSecrets(message)),
    warn: (message) => logger.warn({ event: 'warning' }, redactSecrets(message)),
    backfillProgress: () => undefined, // the backfill-batch and backfill-progress events carry it
  };
}

const levelOf = (e: StampedEvent): 'info' | 'warn' | 'error' =>
  e.type === 'command-failed' ? 'error' : e.type === 'lock-wait' || (e.type === 'step-attempt' && e.outcome !== 'ok') ? 'warn' : 'info';

/** Log every event of the bus; returns the function that stops. */
export function logEvents(logger: Logger): () => void {
  let lastProgress = 0;
  return onEvent((e) => {
    // Progress comes once per batch: logged at most once a second (and when the table is done).
    if (e.type === 'backfill-progress') {
      const now = Date.now();
      if (!e.finished && now - lastProgress < 1000) return;
      lastProgress = now;
    }
    const { type, time: _time, ...fields } = e;
    logger[levelOf(e)]({ event: type, ...redactDeep(fields) }, type);
  });
}
