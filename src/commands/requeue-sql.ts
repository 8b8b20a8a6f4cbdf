import type { SqlQuery } from '../db/types.js';

/** Which stranded commands a requeue takes: every given filter must hold. */
export interface RequeueFilter {
  /** Command types (null: any). */
  types: readonly string[] | null;
  /** One command (null: any). */
  id: string | null;
  /** Received at or after / before (null: open). */
  since: Date | null;
  until: Date | null;
  /** Only commands stopped at one of these (type, step index) pairs: the calls to a downstream. */
  steps: readonly { type: string; step: number }[] | null;
  limit: number;
}

const PICK = (s: string) => `SELECT id FROM ${s}.commands
            WHERE status = 'needs_attention'
              AND ($1::text[] IS NULL OR type = ANY($1::text[]))
              AND ($2::uuid IS NULL OR id = $2::uuid)
              AND ($3::timestamptz IS NULL OR created_at >= $3)
              AND ($4::timestamptz IS NULL OR created_at < $4)
              AND ($5::jsonb IS NULL OR EXISTS (
                    SELECT 1 FROM jsonb_array_elements($5::jsonb) x
                     WHERE x ->> 'type' = type AND (x ->> 'step')::int = step_index))
            ORDER BY created_at, id
            LIMIT $6`;

function filterValues(f: RequeueFilter): unknown[] {
  return [f.types, f.id, f.since, f.until, f.steps === null ? null : JSON.stringify(f.steps), f.limit];
}

/** The commands a requeue would take (a dry run). */
export const strandedSql = (s: string, f: RequeueFilter): SqlQuery => ({
  text: `SELECT c.id::text AS id, c.type, c.key, c.principal, c.attempts, c.step_index, c.created_at, c.updated_at
           FROM ${s}.commands c WHERE c.id IN (${PICK(s)}) ORDER BY c.created_at, c.id`,
  values: filterValues(f),
});

/**
 * Gives stranded (`needs_attention`) commands a new budget, in one statement: back to `pending` (or to
 * `compensating` when a definite failure was being undone), attempts from 0, the deadline counting from
 * now, due now; a `requeued` event with who and why; their open needs_attention alerts resolved.
 */
export const requeueSql = (
  s: string,
  f: RequeueFilter,
  by: { actor: string; reason: string; at: Date },
): SqlQuery => ({
  text: `WITH pick AS (${PICK(s)} FOR UPDATE),
         u AS (
           UPDATE ${s}.commands c
              SET status = CASE WHEN c.error IS NOT NULL AND coalesce((c.error ->> 'compensated')::boolean, false) = false
                                THEN 'compensating' ELSE 'pending' END,
                  attempts = 0, budget_from = $7, next_at = $7, paused_on = NULL, lease_owner = NULL,
                  lease_until = NULL, updated_at = $7
             FROM pick WHERE c.id = pick.id
           RETURNING c.id, c.type, c.key, c.principal, c.status, c.created_at),
         ev AS (
           INSERT INTO ${s}.command_events (command_id, kind, data, at)
           SELECT id, 'requeued', jsonb_build_object('actor', $8::text, 'reason', $9::text, 'to', status), $7 FROM u),
         al AS (
           UPDATE ${s}.command_alerts a SET resolved_at = $7
             FROM u WHERE a.command_id = u.id AND a.kind = 'needs_attention' AND a.resolved_at IS NULL
           RETURNING 1)
         SELECT id::text AS id, type, key, principal, status, created_at FROM u ORDER BY created_at, id`,
  values: [...filterValues(f), by.at, by.actor, by.reason],
});
