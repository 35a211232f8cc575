import { EventEmitter } from 'node:events';

/**
 * The events of a run, on one in-process bus: the state layer announces what it records (a phase
 * change, every step attempt), the backfill each batch, the CLI each command's end. Structured
 * logs, hooks and the runner's metrics listen here; nothing here touches the database.
 */
export type TandemEvent =
  | { type: 'phase-change'; migrationId: string; migration: string; schema: string; phase: string }
  | {
      type: 'step-attempt';
      migrationId: string;
      migration: string;
      schema: string;
      phase: string;
      step: string;
      attempt: number;
      outcome: 'ok' | 'failed' | 'lock_timeout';
      durationMs: number;
      sqlstate?: string | undefined;
      error?: string | undefined;
    }
  | { type: 'lock-wait'; step: string; attempt: number; blockers: { pid: number; mode?: string | undefined; query?: string | undefined }[] }
  | { type: 'backfill-batch'; migrationId: string; table: string; slice: number; rows: number; durationMs: number; batchSize: number; delayMs: number }
  | { type: 'backfill-progress'; table: string; rowsDone: number; estimatedRows: number; finished: boolean }
  | { type: 'command-done'; command: string; result: unknown }
  | { type: 'command-failed'; command: string; code: string; exitCode: number; message: string };

export type TandemEventType = TandemEvent['type'];

/** An event as listeners get it: with the time it happened. */
export type StampedEvent = TandemEvent & { time: string };

const bus = new EventEmitter();
bus.setMaxListeners(50);

export function emitEvent(event: TandemEvent): void {
  if (bus.listenerCount('event') === 0) return;
  const stamped: StampedEvent = { ...event, time: new Date().toISOString() };
  bus.emit('event', stamped);
}

/** Listen to every event; returns the function that stops listening. A listener's exception never reaches the emitter. */
export function onEvent(listener: (event: StampedEvent) => void): () => void {
  const safe = (e: StampedEvent) => {
    try {
      listener(e);
    } catch {
      // an observer never breaks the migration
    }
  };
  bus.on('event', safe);
  return () => bus.off('event', safe);
}
