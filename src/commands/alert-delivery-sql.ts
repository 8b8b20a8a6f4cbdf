import type { SqlQuery } from '../db/types.js';

// Decision 0144. alert_deliveries (migration 14) is the outbox: a row per alert, written by a trigger in
// the transaction that raised it. next_at is both when the next attempt is due and, while a worker holds
// a row, when its hold ends (a crashed worker's row is taken over then).

/**
 * Closes the due deliveries of alerts resolved meanwhile as `skipped`: a resolved alert is not sent
 * (again). Returns how many.
 */
export const skipResolvedSql = (s: string, now: Date): SqlQuery => ({
  text: `WITH u AS (
           UPDATE ${s}.alert_deliveries d SET status = 'skipped', done_at = $1, lease_owner = NULL
             FROM ${s}.command_alerts a
            WHERE d.status = 'pending' AND d.next_at <= $1 AND a.id = d.alert_id AND a.resolved_at IS NOT NULL
           RETURNING 1)
         SELECT count(*)::int AS n FROM u`,
  values: [now],
});

/**
 * Takes up to `limit` due deliveries of open alerts, held for `owner` until `until`, each attempt
 * counted before it is made. Returns them with their alert.
 */
export const claimDeliveriesSql = (
  s: string,
  c: { owner: string; now: Date; until: Date; limit: number },
): SqlQuery => ({
  text: `WITH due AS (
           SELECT d.alert_id FROM ${s}.alert_deliveries d
            WHERE d.status = 'pending' AND d.next_at <= $1
            ORDER BY d.next_at, d.alert_id
            LIMIT $2
              FOR UPDATE SKIP LOCKED),
         held AS (
           UPDATE ${s}.alert_deliveries d
              SET lease_owner = $3, next_at = $4, attempts = d.attempts + 1
             FROM due WHERE d.alert_id = due.alert_id
           RETURNING d.alert_id, d.delivery_id, d.acked, d.attempts)
         SELECT h.alert_id::text AS alert_id, h.delivery_id::text AS delivery_id, h.acked, h.attempts,
                a.command_id::text AS command_id, a.command_type, a.kind, a.message, a.data, a.at
           FROM held h JOIN ${s}.command_alerts a ON a.id = h.alert_id
          ORDER BY h.alert_id`,
  values: [c.now, c.limit, c.owner, c.until],
});

/**
 * Records an attempt's end for a held delivery: the channels that acknowledged are added to `acked`
 * (never sent to again); `delivered` once every configured channel has; otherwise due again at `retryAt`
 * with the attempt's error. Only while `owner` still holds it: a taken-over row is left to its new holder.
 */
export const recordDeliverySql = (
  s: string,
  r: {
    alertId: string;
    owner: string;
    acked: readonly string[];
    channels: readonly string[];
    error: string | null;
    now: Date;
    retryAt: Date;
  },
): SqlQuery => ({
  text: `UPDATE ${s}.alert_deliveries d
            SET acked = n.acked,
                status = CASE WHEN n.acked @> $4::text[] THEN 'delivered' ELSE 'pending' END,
                done_at = CASE WHEN n.acked @> $4::text[] THEN $6::timestamptz END,
                next_at = CASE WHEN n.acked @> $4::text[] THEN d.next_at ELSE $7::timestamptz END,
                last_error = coalesce($5::text, d.last_error), lease_owner = NULL
           FROM (SELECT ARRAY(SELECT DISTINCT x FROM unnest(d0.acked || $3::text[]) x ORDER BY x) AS acked
                   FROM ${s}.alert_deliveries d0 WHERE d0.alert_id = $1::bigint) n
          WHERE d.alert_id = $1::bigint AND d.lease_owner = $2 AND d.status = 'pending'
          RETURNING d.status`,
  values: [r.alertId, r.owner, r.acked, r.channels, r.error, r.now, r.retryAt],
});

const COLS = `d.alert_id::text AS alert_id, d.delivery_id::text AS delivery_id, d.status, d.acked, d.attempts,
              d.last_error, d.next_at, d.created_at, d.done_at`;

/** Deliveries, newest alert first: of one alert, or only the pending ones. */
export const listDeliveriesSql = (
  s: string,
  f: { alertId: string | null; pending: boolean; limit: number },
): SqlQuery => ({
  text: `SELECT ${COLS} FROM ${s}.alert_deliveries d
          WHERE ($1::bigint IS NULL OR d.alert_id = $1::bigint) AND (NOT $2::boolean OR d.status = 'pending')
          ORDER BY d.alert_id DESC
          LIMIT $3`,
  values: [f.alertId, f.pending, f.limit],
});
