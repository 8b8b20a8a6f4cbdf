import type { CommandFailure } from './definition.js';
import type { CommandRow, CommandStatus } from './sql.js';

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
  };
}
