import type { CommandFailure } from './definition.js';
import type { CommandRow, CommandStatus } from './sql.js';

// Not machine.ts's ACTIVE: result.ts is imported by modules machine.ts imports.
const ACTIVE_STATES: ReadonlySet<CommandStatus> = new Set(['pending', 'compensating']);

/** What `submit` and `get` answer: the command's recorded state and, once finished, its result. */
export interface CommandResult<R = unknown> {
  id: string;
  type: string;
  key: string;
  principal: string;
  /** `pending` means the outcome is not known yet (the worker continues); only `succeeded`/`failed` are final. */
  status: CommandStatus;
  /** The recorded result, once `succeeded`. */
  result: R | null;
  /** The definite failure, once `failed` (with `compensated: true` when completed steps were undone). */
  error: CommandFailure | null;
  /** True when the command existed before this call (a retry): its recorded state was used, not re-run. */
  replayed: boolean;
  attempts: number;
  createdAt: Date;
  finishedAt: Date | null;
  /**
   * 'secondary' while the command is only recorded on the failover store (its primary was unreachable):
   * none of its steps has run; they run after it is handed over to the primary.
   */
  store?: 'secondary';
  /**
   * While the command is open and nobody is running it: when its next attempt is scheduled (null when it
   * is running, finished, or waiting for a person).
   */
  nextAttemptAt: Date | null;
  /** The downstream whose open breaker holds the command (it resumes when the breaker closes). */
  pausedOn: string | null;
  /** Set by `submit` on an open command: how long until its next attempt (what HTTP's Retry-After says). */
  retryAfterMs?: number;
}

export function toResult<R>(row: CommandRow, replayed: boolean): CommandResult<R> {
  return {
    id: row.id,
    type: row.type,
    key: row.key,
    principal: row.principal,
    status: row.status,
    result: row.status === 'succeeded' ? (row.result as R) : null,
    error: row.status === 'failed' ? (row.error as unknown as CommandFailure) : null,
    replayed,
    attempts: row.attempts,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    nextAttemptAt: ACTIVE_STATES.has(row.status) && row.lease_owner === null ? row.next_at : null,
    pausedOn: row.status === 'pending' ? (row.paused_on ?? null) : null,
  };
}
