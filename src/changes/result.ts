import type { EntityKey } from './keys.js';

export type RejectReason = 'not_found' | 'illegal_transition';

export interface Rejection {
  key: EntityKey;
  reason: RejectReason;
  /** The state the row was in, for an illegal transition. */
  from?: string;
  /** A sentence an operator can read. */
  message: string;
}

/** What a change did to each selected key. */
export interface ChangeResult {
  /** Keys whose row changed; each got exactly one log row. */
  changed: EntityKey[];
  /** Keys already in the target state (or already holding the values): no change, no log row. */
  unchanged: EntityKey[];
  /** Keys refused, with the reason. Under the default atomic mode a non-empty list means nothing changed. */
  rejected: Rejection[];
  /** Whether the changes were written (false only when an atomic change was refused). */
  applied: boolean;
}
