import { defaultExecOptions, type ExecOptions } from './options.js';
import { throttleExecOptions } from './throttle-options.js';

/** The executor's options from engine options (some fields may be missing). */
export function resolveExecOptions(o: Partial<ExecOptions>): ExecOptions {
  return {
    lockTimeoutMs: o.lockTimeoutMs ?? defaultExecOptions.lockTimeoutMs,
    lockRetryForMs: o.lockRetryForMs ?? defaultExecOptions.lockRetryForMs,
    batchSize: o.batchSize ?? defaultExecOptions.batchSize,
    batchDelayMs: o.batchDelayMs ?? defaultExecOptions.batchDelayMs,
    ...throttleExecOptions(o),
  };
}
