import type { SqlQuery } from '../db/types.js';

/**
 * Claims up to `limit` due, unfinished commands of the given types that nobody holds: `FOR UPDATE SKIP
 * LOCKED` lets several workers claim side by side without waiting, and the lease written in the same
 * statement keeps everyone else off each claimed command until it expires. Each comes with its stored trace
 * context, which a traced drive links to (decision 0140) without a statement of its own.
 */
export const claimDueSql = (
  s: string,
  c: { types: readonly string[]; owner: string; now: Date; until: Date; limit: number },
): SqlQuery => ({
  text: `WITH due AS (
           SELECT id FROM ${s}.commands
            WHERE status IN ('pending', 'compensating') AND next_at <= $1 AND type = ANY($2::text[])
              AND (lease_owner IS NULL OR lease_until <= $1)
            ORDER BY next_at, id
            LIMIT $3
              FOR UPDATE SKIP LOCKED),
         claimed AS (
           UPDATE ${s}.commands c SET lease_owner = $4, lease_until = $5, updated_at = $1
             FROM due WHERE c.id = due.id
           RETURNING c.id, c.type, c.attempts, c.trace_context),
         ev AS (
           INSERT INTO ${s}.command_events (command_id, kind, data, at)
           SELECT id, 'claimed', jsonb_build_object('worker', $4::text, 'leaseUntil', $5::timestamptz), $1 FROM claimed)
         SELECT id::text AS id, type, trace_context FROM claimed`,
  values: [c.now, c.types, c.limit, c.owner, c.until],
});
