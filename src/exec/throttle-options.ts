import type { ExecOptions } from './options.js';

/** The throttle's command-line options (global, so `start`, `migrate`, `complete`… all take them). */
export interface ThrottleCliOptions {
  targetBatchMs?: number;
  maxReplicaLag?: number;
  throttleSql?: string;
  throttleUrl?: string;
}

type ThrottleExecOptions = Pick<ExecOptions, 'targetBatchMs' | 'maxReplicaLagMs' | 'throttleSql' | 'throttleUrl'>;

/** The throttle's fields of ExecOptions from the command line's (absent ones left out). */
export function throttleOptionsFromCli(g: ThrottleCliOptions): ThrottleExecOptions {
  return {
    ...(g.targetBatchMs !== undefined ? { targetBatchMs: g.targetBatchMs } : {}),
    ...(g.maxReplicaLag !== undefined ? { maxReplicaLagMs: g.maxReplicaLag } : {}),
    ...(g.throttleSql !== undefined ? { throttleSql: g.throttleSql } : {}),
    ...(g.throttleUrl !== undefined ? { throttleUrl: g.throttleUrl } : {}),
  };
}

/** The same fields, copied from engine options (which may hold more) into the executor's. */
export function throttleExecOptions(o: Partial<ExecOptions>): ThrottleExecOptions {
  return {
    ...(o.targetBatchMs !== undefined ? { targetBatchMs: o.targetBatchMs } : {}),
    ...(o.maxReplicaLagMs !== undefined ? { maxReplicaLagMs: o.maxReplicaLagMs } : {}),
    ...(o.throttleSql !== undefined ? { throttleSql: o.throttleSql } : {}),
    ...(o.throttleUrl !== undefined ? { throttleUrl: o.throttleUrl } : {}),
  };
}
