import { displayRel } from '../ast.js';
import { LOCK_NAMES, LockMode, lockBlocks } from '../types.js';
import { defineRule } from './define.js';

export const requireLockTimeout = defineRule({
  id: 'require-lock-timeout',
  defaultSeverity: 'warning',
  on: '*',
  docs: {
    summary: 'A statement that takes a lock blocking the application (SHARE or stronger) with no lock_timeout set',
    why: 'A lock request waits behind any long-running query on the table, and every query that arrives after it queues behind the waiting request: without lock_timeout the application stalls for as long as that wait lasts.',
    safe: "SET lock_timeout = '100ms'; (or SET LOCAL inside the transaction) before the statement, and retry when it times out.",
    tandem: 'every Tandem step runs under --lock-timeout (50 ms by default) and retries with backoff and jitter.',
    bad: 'ALTER TABLE users ADD COLUMN plan text;',
    good: "SET lock_timeout = '100ms';\nALTER TABLE users ADD COLUMN plan text;",
  },
  check(ctx) {
    if (ctx.file.lockTimeout) return undefined;
    let strongest: (typeof ctx.facts.locks)[number] | undefined;
    for (const l of ctx.facts.locks) {
      if (l.isNew || l.mode < LockMode.Share) continue;
      if (!strongest || l.mode > strongest.mode) strongest = l;
    }
    if (!strongest) return undefined;
    const t = strongest.via === 'index' ? `the table of index ${displayRel(strongest.rel)}` : displayRel(strongest.rel);
    const mode = LOCK_NAMES[strongest.mode];
    return [
      {
        message: `takes ${mode} on ${t} with no lock_timeout set`,
        why: `while this statement waits for ${mode} on ${t} (behind any long-running query), every new query on ${t} that conflicts with it — ${lockBlocks(strongest.mode)} — queues behind it, for as long as the wait lasts`,
        lock: mode,
        rel: strongest.rel,
      },
    ];
  },
});
