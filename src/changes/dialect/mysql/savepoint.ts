import type { Executor } from '../../../db/types.js';

/**
 * Tally's own savepoint in a caller's transaction. One name: MySQL replaces a savepoint of the same name,
 * so a later change (or one nested inside the caller's own savepoint) simply sets it again.
 */
const NAME = 'tally_change';

/**
 * Runs a change's statements in the caller's transaction so that a failure leaves nothing of them behind.
 * MySQL rolls back only the failing statement and keeps the transaction open: without the savepoint, a
 * log row inserted before a refused UPDATE (or rows inserted before their refused log rows) would stay in
 * the caller's transaction, and a caller who catches the error and commits would keep a log row for a
 * change that did not happen, or state without its log (MISSION §1). PostgreSQL needs none of this: an
 * error aborts the whole transaction there. One more round trip, only when the caller owns the transaction.
 */
export async function inCallersSavepoint<T>(tx: Executor, run: () => Promise<T>): Promise<T> {
  await tx.query({ text: `SAVEPOINT ${NAME}` });
  try {
    return await run();
  } catch (err) {
    try {
      await tx.query({ text: `ROLLBACK TO SAVEPOINT ${NAME}` });
    } catch {
      // A deadlock (or innodb_rollback_on_timeout) rolled the caller's whole transaction back, savepoint
      // included: nothing of the change is left, and the original error is the one to report.
    }
    throw err;
  }
}
