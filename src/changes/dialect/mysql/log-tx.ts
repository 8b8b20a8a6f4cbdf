import { sqlStateOf } from '../../../db/errors.js';
import { tallyTable } from '../../../db/mysql/names.js';
import type { Executor } from '../../../db/types.js';

/**
 * Registers a log-writing statement with the feed (decision 0134) and returns its seq, which the log
 * rows it writes carry as `txid`. The registration row is inserted in the writer's transaction, so it
 * commits (or rolls back) with the log rows, and its row lock tells a feed reader the seq is in flight.
 * A reader may have declared the seq dead in the instant between its AUTO_INCREMENT allocation and the
 * insert (the reader inserted it first): the duplicate key refuses this statement only, and the writer
 * takes the next seq. One statement per log write; the rows of a transaction may carry several seqs,
 * which all commit together.
 */
export async function registerLogTx(tx: Executor, schemaName: string): Promise<string> {
  const table = tallyTable(schemaName, 'log_tx');
  for (let attempt = 1; ; attempt++) {
    try {
      const [r] = await tx.query<{ insertId: number | string }>({
        text: `INSERT INTO ${table} () VALUES ()`,
      });
      return String(r!.insertId);
    } catch (err) {
      if (attempt >= 3 || sqlStateOf(err) !== '23505') throw err;
    }
  }
}
