import { spawn } from 'node:child_process';
import { onEvent, type StampedEvent } from './events.js';
import { redactDeep, redactSecrets } from './redact.js';

/** The events a hook is told about: phase changes, failures and the end of a command. */
const hookedEvents = new Set(['phase-change', 'command-failed', 'command-done']);

export interface HookOptions {
  /** A shell command run per event, the payload on its stdin (`--on-event`). */
  command?: string | undefined;
  /** A URL the payload is POSTed to as JSON (`--webhook`). */
  webhook?: string | undefined;
  /** How long one hook may take before it is abandoned. */
  timeoutMs?: number;
  /** Where a hook's failure is told (it never fails the migration). */
  warn: (message: string) => void;
}

export interface HookPayload {
  event: string;
  time: string;
  tandem: { command: string };
  [field: string]: unknown;
}

export function hookPayload(e: StampedEvent, command: string): HookPayload {
  const { type, time, ...fields } = e;
  return { event: type, time, tandem: { command }, ...redactDeep(fields) };
}

/**
 * Run the hooks on every hooked event, in order of the events (one at a time, so a chat channel
 * reads them in order); `flush` waits for those under way, so the process ends after them.
 */
export function startHooks(command: string, opts: HookOptions): { flush: () => Promise<void>; stop: () => void } {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let chain: Promise<void> = Promise.resolve();
  const stop = onEvent((e) => {
    if (!hookedEvents.has(e.type)) return;
    const payload = hookPayload(e, command);
    chain = chain.then(async () => {
      if (opts.command) await runCommandHook(opts.command, payload, timeoutMs).catch((err: Error) => opts.warn(`--on-event hook failed: ${err.message}`));
      if (opts.webhook)
        await postWebhook(opts.webhook, payload, timeoutMs).catch((err: Error) => opts.warn(`--webhook ${redactSecrets(opts.webhook!)} failed: ${redactSecrets(err.message)}`));
    });
  });
  return { flush: () => chain, stop };
}

function runCommandHook(command: string, payload: HookPayload, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      TANDEM_EVENT: payload.event,
      TANDEM_MIGRATION: typeof payload['migration'] === 'string' ? payload['migration'] : '',
      TANDEM_PHASE: typeof payload['phase'] === 'string' ? payload['phase'] : '',
      TANDEM_SCHEMA: typeof payload['schema'] === 'string' ? payload['schema'] : '',
    };
    const child = spawn('/bin/sh', ['-c', command], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => (clearTimeout(timer), reject(err)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(signal ? `killed by ${signal} after ${timeoutMs} ms` : `exit code ${code}${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    child.stdin.on('error', () => undefined); // a hook that does not read its stdin
    child.stdin.end(`${JSON.stringify(payload)}\n`);
  });
}

async function postWebhook(url: string, payload: HookPayload, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'tandem' },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}
