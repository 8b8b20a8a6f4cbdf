import type { CallAndCommand } from './sql.js';
import type { DownstreamView, MismatchKind, UpstreamView } from './types.js';

/** Which disagreement an upstream call outcome and the downstream's record make; null when they agree. */
export function mismatchOf(up: UpstreamView, down: DownstreamView, sends: number): MismatchKind | null {
  if (up === 'success') {
    return down === 'success'
      ? null
      : down === 'failure'
        ? 'upstream_succeeded_downstream_failed'
        : 'upstream_succeeded_downstream_missing';
  }
  if (up === 'failure') return down === 'success' ? 'upstream_failed_downstream_succeeded' : null;
  if (down === 'success') return 'upstream_unknown_downstream_succeeded';
  if (down === 'failure') return 'upstream_unknown_downstream_failed';
  // Never sent: the downstream cannot have it, and nothing is in doubt.
  return sends === 0 ? null : 'upstream_unknown_downstream_missing';
}

const RESOLVING = new Set(['pending', 'compensating']);

/**
 * The worker gets the first chance: a difference on a command that is still running, or whose call has
 * no definite outcome, is pending while the command is younger than the grace period.
 */
export function stateOf(row: CallAndCommand, now: Date, graceMs: number): 'pending' | 'mismatch' {
  const workerMayResolve = RESOLVING.has(row.status) || row.outcome === null;
  const young = now.getTime() - new Date(row.created_at).getTime() < graceMs;
  return workerMayResolve && young ? 'pending' : 'mismatch';
}
