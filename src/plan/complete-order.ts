import type { Action, BackfillStep, SqlStep, Step } from './types.js';

/**
 * The order of `complete`, so that a complete that fails can always be either run again or rolled
 * back:
 *
 * 1. **Checks** — everything that can fail and removes nothing the old version needs: that every
 *    backfilled row is in sync (from the marker column, one step per backfilled table), then the
 *    VALIDATE CONSTRAINT steps (SHARE UPDATE EXCLUSIVE: traffic goes on). A failure here leaves
 *    the old version whole; `tandem rollback` works.
 * 2. **The point of no return** — ONE transaction with the previous version schema's view drops
 *    and every table's contract actions (trigger, old columns, renames, SET NOT NULL…). One
 *    transaction so that a failure inside it — a lock it gives up on, an error — changes nothing
 *    (the old version and rollback stay possible), and so that no query ever sees some tables
 *    contracted and others not. It takes ACCESS EXCLUSIVE on each contracted table and each view
 *    it drops, in plan order, and holds them to the commit: while it waits for a later table's
 *    lock, queries on the tables it already holds wait too. So each lock wait of this transaction
 *    gets its share of --lock-timeout (the executor's stepLockTimeout), the worst stall of a query
 *    stays about --lock-timeout, and the whole transaction is retried with backoff. This step is
 *    `irreversible`.
 * 3. **Cleanup** — statements PostgreSQL refuses in a transaction (DROP INDEX CONCURRENTLY…), each
 *    its own idempotent step, after the point of no return and `irreversible` too.
 *
 * Pure: the plan's complete steps (and its start steps, for the backfilled tables) in, the ordered
 * steps out; the same input always gives the same output.
 */
export function orderCompleteSteps(plan: { start: readonly Step[]; complete: readonly Step[] }): Step[] {
  const verifications = plan.start
    .filter(isBackfill)
    .filter((b) => !b.verifyOnly)
    .map(verificationOf);
  const checks: Step[] = [];
  const contract: SqlStep[] = [];
  const cleanup: Step[] = [];
  for (const step of plan.complete) {
    if (step.kind === 'backfill' && step.verifyOnly) continue; // already ordered: made again from the start steps
    if (isCheck(step)) checks.push(step);
    else if (step.kind === 'sql' && step.transactional) contract.push(step);
    else cleanup.push(step);
  }
  const pointOfNoReturn = contract.length ? [oneContractTransaction(contract)] : [];
  return [...verifications, ...checks, ...pointOfNoReturn, ...cleanup.map((s) => ({ ...s, irreversible: true }))];
}

/**
 * Whether a complete step removes nothing the old version needs (a backfill verification, a
 * VALIDATE CONSTRAINT step), so that rollback stays possible after it. For plans stored before
 * steps carried `irreversible`, this tells the steps apart the same way.
 */
export function removesNothing(step: Step): boolean {
  return (step.kind === 'backfill' && step.verifyOnly === true) || isCheck(step);
}

function isBackfill(step: Step): step is BackfillStep {
  return step.kind === 'backfill';
}

/** A step that only checks (VALIDATE CONSTRAINT scans): it removes nothing. */
function isCheck(step: Step): boolean {
  return step.kind === 'sql' && step.actions.length > 0 && step.actions.every((a) => a.scans === true);
}

/** Complete's check that every row of a backfilled table is in sync (fails, changing nothing, if one is not). */
function verificationOf(backfill: BackfillStep): BackfillStep {
  return {
    ...backfill,
    id: `verify-backfill:${backfill.table}`,
    description: `check that every row of ${backfill.table} is in sync`,
    verifyOnly: true,
  };
}

/** The contract steps' actions, in their order, as one transaction (see orderCompleteSteps). */
function oneContractTransaction(steps: SqlStep[]): SqlStep {
  if (steps.length === 1 && steps[0]!.id === 'contract') return { ...steps[0]!, irreversible: true };
  const actions: Action[] = steps.flatMap((s) => s.actions);
  const what = steps.map((s) => s.description).join('; ');
  return {
    kind: 'sql',
    id: 'contract',
    description: `point of no return, one transaction: ${what}`,
    transactional: true,
    actions,
    irreversible: true,
  };
}
