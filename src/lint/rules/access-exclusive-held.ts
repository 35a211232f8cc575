import { displayRel } from '../ast.js';
import { LockMode } from '../types.js';
import { defineRule } from './define.js';

export const accessExclusiveHeld = defineRule({
  id: 'access-exclusive-held',
  defaultSeverity: 'error',
  on: '*',
  docs: {
    summary: 'Slow work, or another lock, while the transaction holds ACCESS EXCLUSIVE on a table',
    why: "ACCESS EXCLUSIVE is held until COMMIT. Every later statement of the transaction extends the time every query on that table waits: a backfill, an index build or a validation turns a millisecond lock into minutes, and waiting for a second table's lock queues the application behind both.",
    safe: 'COMMIT right after the statement that takes ACCESS EXCLUSIVE; run backfills, index builds and validations in their own transactions (or none), each lock-taking step under lock_timeout.',
    tandem: 'each Tandem step is its own short transaction under lock_timeout; backfills run in batches outside it.',
    bad: "BEGIN; ALTER TABLE users ADD COLUMN plan text; UPDATE users SET plan = 'free'; COMMIT;",
    good: 'BEGIN; ALTER TABLE users ADD COLUMN plan text; COMMIT; -- then backfill in batches',
  },
  check(ctx) {
    const held = ctx.file.heldAccessExclusive;
    if (!ctx.file.inTransaction || held.length === 0) return undefined;
    const heldKeys = new Set(held.map((h) => `${h.rel.schema ?? ''}.${h.rel.name}`));
    const first = held[0]!;
    const heldText = held.length === 1 ? `${displayRel(first.rel)} (taken at line ${first.line})` : held.map((h) => `${displayRel(h.rel)} (line ${h.line})`).join(', ');
    const work = ctx.facts.work;
    if (work) {
      const what = work.describe();
      return [
        {
          message: `${what} while ACCESS EXCLUSIVE on ${heldText} is held`,
          why: `every query on ${held.map((h) => displayRel(h.rel)).join(', ')} has been waiting since line ${first.line} and keeps waiting while this statement ${what}, until COMMIT`,
          lock: 'ACCESS EXCLUSIVE',
          rel: work.rel ?? first.rel,
        },
      ];
    }
    const other = ctx.facts.locks.find((l) => !l.isNew && l.mode >= LockMode.ShareUpdateExclusive && !heldKeys.has(`${l.rel.schema ?? ''}.${l.rel.name}`));
    if (other) {
      return [
        {
          message: `waits for a lock on ${displayRel(other.rel)} while ACCESS EXCLUSIVE on ${heldText} is held`,
          why: `if ${displayRel(other.rel)} is busy this statement waits, and every query on ${held.map((h) => displayRel(h.rel)).join(', ')} waits behind it (a lock queue across tables, and a deadlock risk)`,
          lock: 'ACCESS EXCLUSIVE',
          rel: first.rel,
        },
      ];
    }
    return undefined;
  },
});
