import type { Row } from '../db/types.js';
import type { Lsn } from './lsn.js';

export interface Attempt<R extends Row = Row> {
  readonly target: string;
  readonly rows: R[];
  readonly version: Lsn | null;
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
