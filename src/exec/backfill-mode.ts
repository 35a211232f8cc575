/**
 * Which statement a slice's next batch uses. `plain`: one UPDATE of the next keys' range, which
 * costs what the UPDATE of its rows costs but may wait (briefly: a short lock_timeout) for a row
 * an application transaction holds. `locking`: lock the rows first FOR UPDATE SKIP LOCKED and
 * store the keys others hold for the revisit: never waits for a row, costs a row lock (a WAL
 * record) per row more. A slice starts plain; a plain batch that had to give up on a wait is redone
 * locking, and so are the next LOCKING_AFTER_WAIT batches, so traffic that keeps rows locked
 * costs at most one wasted attempt per that many batches. Pure: no I/O.
 */
export const LOCKING_AFTER_WAIT = 16;

/** The longest a plain batch waits for one row an application holds, at most --lock-timeout. */
export const PLAIN_LOCK_TIMEOUT_MS = 20;

export class BatchMode {
  private lockingLeft = 0;

  next(): 'plain' | 'locking' {
    if (this.lockingLeft > 0) {
      this.lockingLeft--;
      return 'locking';
    }
    return 'plain';
  }

  /** A plain batch gave up on a lock wait: it is redone locking, and so are the next few. */
  waited(): void {
    this.lockingLeft = LOCKING_AFTER_WAIT;
  }
}
