import type { SqlQuery } from '../db/types.js';

/**
 * Retry now (decision 0145): a pending or compensating command that is not being driven this moment is
 * made due now, its budget untouched (attempts and deadline as they were: the attempt the worker makes
 * next counts as any retry does); a breaker pause is lifted (the call step pauses it again while the
 * breaker stays open, spending nothing). A `retry_now` event and an operator action row record who and
 * why, in the same statement. Always answers the command's status before the change, with `applied`.
 */
export const retryNowSql = (
  s: string,
  r: { id: string; actor: string; reason: string; at: Date },
): SqlQuery => ({
  text: `WITH c AS (
           SELECT id, type, status, next_at, paused_on,
                  (lease_owner IS NOT NULL AND lease_until > $2) AS in_flight
             FROM ${s}.commands WHERE id = $1::uuid FOR UPDATE),
         u AS (
           UPDATE ${s}.commands m SET next_at = $2, paused_on = NULL, updated_at = $2
             FROM c WHERE m.id = c.id AND c.status IN ('pending', 'compensating') AND NOT c.in_flight
           RETURNING m.id),
         ev AS (
           INSERT INTO ${s}.command_events (command_id, kind, data, at)
           SELECT c.id, 'retry_now', jsonb_build_object('actor', $3::text, 'reason', $4::text,
                                                        'wasDueAt', c.next_at, 'pausedOn', c.paused_on), $2
             FROM c JOIN u ON u.id = c.id),
         op AS (
           INSERT INTO ${s}.operator_actions (action, target, actor, reason, data, at)
           SELECT 'retry_now', c.id::text, $3, $4,
                  jsonb_build_object('type', c.type, 'status', c.status, 'wasDueAt', c.next_at), $2
             FROM c JOIN u ON u.id = c.id)
         SELECT c.id::text AS id, c.type, c.status, c.in_flight, c.next_at,
                EXISTS (SELECT 1 FROM u) AS applied
           FROM c`,
  values: [r.id, r.at, r.actor, r.reason],
});
