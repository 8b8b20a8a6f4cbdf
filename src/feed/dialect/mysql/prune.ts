import { tallyTable } from '../../../db/mysql/names.js';
import type { Executor } from '../../../db/types.js';
import { BEGINNING_SNAPSHOT } from '../../position.js';
import { parseSnapshot, seqValue, takeSnapshot } from './snapshot.js';

export interface PruneSeqsResult {
  /** Every seq below this is finished; snapshots no longer read below it. */
  readonly floor: string;
  readonly deleted: number;
}

/**
 * Deletes the registrations of finished log-writing statements (decision 0135): raises the floor to the
 * xmin of a fresh snapshot (every seq below it committed or dead, forever), then deletes committed rows
 * below it in chunks. Dead markers stay (few: one per rolled-back statement): they are what refuses a
 * writer that allocated such a seq and had not inserted it yet. The highest finished row below the floor
 * stays too, so the AUTO_INCREMENT counter can never fall back below it, whatever the server does on restart.
 */
export async function pruneMysqlSeqs(
  db: Executor,
  schemaName: string,
  chunk: number,
): Promise<PruneSeqsResult> {
  const logTx = tallyTable(schemaName, 'log_tx');
  const floor = tallyTable(schemaName, 'log_tx_floor');
  const snap = parseSnapshot(await takeSnapshot(db, logTx, floor, BEGINNING_SNAPSHOT));
  const below = snap.xmin < snap.xmax - 1n ? snap.xmin : snap.xmax - 1n;
  if (below < 1n) return { floor: '1', deleted: 0 };
  // Floor first: a snapshot never reads below it, so rows there may go in any order, at any time.
  await db.query({
    text: `UPDATE ${floor} SET below = GREATEST(below, ?) WHERE id = 1`,
    values: [seqValue(below)],
  });
  // Delete below the highest finished row under the floor, never up to an open writer's row: a range
  // DELETE locks each row it reads, also the first one past the range, and would wait for that writer.
  const [top] = await db.query<{ seq: string | null }>({
    text: `SELECT CAST(MAX(x.seq) AS CHAR) AS seq FROM ${logTx} x WHERE x.seq < ?`,
    values: [seqValue(below)],
  });
  if (top?.seq === null || top?.seq === undefined) return { floor: below.toString(), deleted: 0 };
  let deleted = 0;
  for (;;) {
    // READ COMMITTED (Tally's transactions): no gap locks, rows it does not delete are let go at once.
    const [r] = await db.transaction((tx) =>
      tx.query<{ affectedRows: number }>({
        text: `DELETE FROM ${logTx} WHERE seq < ? AND NOT dead ORDER BY seq LIMIT ?`,
        values: [seqValue(BigInt(top.seq!)), chunk],
      }),
    );
    const n = Number(r?.affectedRows ?? 0);
    deleted += n;
    if (n < chunk) break;
  }
  return { floor: below.toString(), deleted };
}
