import { wrapDbError } from '../db/errors.js';
import type { Executor, QueryableLike, Row, SqlQuery } from '../db/types.js';
import { type Lsn, parseLsn } from './lsn.js';
import { readsSql } from './sql.js';

export interface Attempt<R extends Row = Row> {
  readonly target: string;
  readonly rows: R[];
  readonly version: Lsn | null;
}

/**
 * Runs a statement on the primary. With `withVersion`, first reads the insert position X: any write whose
 * token position is below X had committed and become visible before X was read, so before this
 * statement's snapshot. The version is X - 1 (strictly below X), never X: a write committing right
 * now can have its commit record before X and still be invisible to our snapshot.
 */
export async function runOnPrimary<R extends Row>(
  primary: Executor,
  q: SqlQuery,
  withVersion: boolean,
): Promise<Attempt<R>> {
  let version: Lsn | null = null;
  if (withVersion) {
    const pos = await primary.query<{ lsn: string }>(readsSql.primaryPosition());
    version = parseLsn(pos[0]?.lsn)! - 1n;
  }
  const rows = await primary.query<R>(q);
  return { target: 'primary', rows, version };
}

/**
 * Runs a statement on a replica. With `withVersion`, first reads the replay position R: every commit
 * ending at or before R was replayed (visible) before this statement's snapshot was taken.
 */
export async function runOnReplica<R extends Row>(
  name: string,
  pool: QueryableLike,
  q: SqlQuery,
  withVersion: boolean,
): Promise<Attempt<R>> {
  try {
    let version: Lsn | null = null;
    if (withVersion) {
      const pos = await pool.query(readsSql.replayPosition().text);
      version = parseLsn(pos.rows[0]?.lsn);
    }
    const res = await pool.query(q.text, (q.values ?? []) as unknown[]);
    return { target: name, rows: res.rows as R[], version };
  } catch (err) {
    throw wrapDbError(err);
  }
}

// A replica that is gone, restarting, or cancelled our query for recovery conflicts: the primary
// answers instead. Syntax and data errors would fail the same way on the primary: they surface as is.
export function retryableOnPrimary(err: unknown): boolean {
  const state = sqlState(err);
  return !(state === '42601' || state?.startsWith('22'));
}

export function isConnectionError(err: unknown): boolean {
  const state = sqlState(err);
  return state === undefined || state.startsWith('08') || state.startsWith('57P') || state === '53300';
}

// Driver errors without an SQLSTATE (ECONNREFUSED, "Connection terminated") count as undefined.
function sqlState(err: unknown): string | undefined {
  const d = (err as { details?: { sqlState?: unknown } } | null)?.details?.sqlState;
  const c = d ?? (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' && /^[0-9A-Z]{5}$/.test(c) ? c : undefined;
}
