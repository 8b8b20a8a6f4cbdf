import { TallyError } from '../errors.js';
import type { HasTallyConfig } from './consumer.js';
import { type PruneSeqsResult, pruneMysqlSeqs } from './dialect/mysql/prune.js';

export type { PruneSeqsResult } from './dialect/mysql/prune.js';

/**
 * MySQL/MariaDB only: deletes the feed's registrations of finished log-writing statements
 * (`<schema>_log_tx`, one row per transition or create; decisions 0134, 0135), in chunks of `chunk` rows.
 * Safe at any time and from any process; consumers' positions do not depend on the rows it deletes. On
 * PostgreSQL and PGlite the feed keeps no such table: nothing to do, `{ floor: '0', deleted: 0 }`.
 *
 * @example
 * setInterval(() => void pruneFeedSeqs(tally), 3600_000); // hourly
 */
export async function pruneFeedSeqs(
  tally: HasTallyConfig,
  options: { chunk?: number } = {},
): Promise<PruneSeqsResult> {
  const chunk = options.chunk ?? 10_000;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 1_000_000) {
    throw new TallyError('INVALID_FEED_OPTIONS', 'pruneFeedSeqs chunk must be an integer from 1 to 1000000');
  }
  const { db, schemaName } = tally.config;
  if (db.dialect !== 'mysql') return { floor: '0', deleted: 0 };
  return pruneMysqlSeqs(db, schemaName, chunk);
}
