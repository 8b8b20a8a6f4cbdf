import type { TallyConfig } from '../config.js';
import { insertRunsSql, type RunRow } from './runs-sql.js';

/**
 * Records reconcile results per entity type in reconcile_runs (decision 0146), what the console's
 * Overview shows. Best effort, and never in a caller's transaction: the check is a read, and a database
 * it cannot write to (a standby, a read-only role, a schema before migration 16, MySQL) must not cost
 * its report. Returns whether the results were recorded.
 */
export async function recordRuns(config: TallyConfig, at: Date, rows: readonly RunRow[]): Promise<boolean> {
  const { db, s } = config;
  if (rows.length === 0 || db.inTransaction || db.dialect === 'mysql') return false;
  try {
    await db.query(insertRunsSql(s, at, rows));
    return true;
  } catch {
    return false;
  }
}
