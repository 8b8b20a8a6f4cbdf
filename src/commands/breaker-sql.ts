import type { SqlQuery } from '../db/types.js';

/** A breaker as stored: one row per downstream that ever failed to be reached. */
export interface DownstreamRow {
  name: string;
  state: 'closed' | 'open';
  failures: number;
  opened_at: Date | null;
  probe_at: Date | null;
  probes: number;
  probe_owner: string | null;
  probe_until: Date | null;
  last_error: string | null;
  updated_at: Date;
}

const COLS = `name, state, failures, opened_at, probe_at, probes, probe_owner, probe_until, last_error, updated_at`;

export const downstreamSql = (s: string, name: string): SqlQuery => ({
  text: `SELECT ${COLS} FROM ${s}.downstreams WHERE name = $1`,
  values: [name],
});

/** Every breaker, with how many commands each holds paused. */
export const downstreamsSql = (s: string): SqlQuery => ({
  text: `SELECT ${COLS.split(', ')
    .map((c) => `d.${c}`)
    .join(', ')},
                (SELECT count(*)::int FROM ${s}.commands c WHERE c.paused_on = d.name AND c.status = 'pending') AS paused
           FROM ${s}.downstreams d ORDER BY d.name`,
  values: [],
});

/**
 * One more call that could not reach the downstream. The breaker opens when the consecutive count reaches
 * `after` (its first probe is due `probeMs` later). `opened` says whether this call opened it.
 */
export const breakerFailedSql = (
  s: string,
  b: { name: string; at: Date; after: number; probeMs: number; error: string },
): SqlQuery => ({
  text: `WITH prev AS (SELECT state FROM ${s}.downstreams WHERE name = $1),
         up AS (
           INSERT INTO ${s}.downstreams AS d (name, state, failures, opened_at, probe_at, last_error, updated_at)
           VALUES ($1, CASE WHEN $3::int <= 1 THEN 'open' ELSE 'closed' END, 1,
                   CASE WHEN $3::int <= 1 THEN $2::timestamptz END,
                   CASE WHEN $3::int <= 1 THEN $2::timestamptz + $4::int * interval '1 millisecond' END, $5, $2)
           ON CONFLICT (name) DO UPDATE
             SET failures = d.failures + 1, last_error = $5, updated_at = $2,
                 state = CASE WHEN d.state = 'closed' AND d.failures + 1 >= $3 THEN 'open' ELSE d.state END,
                 opened_at = CASE WHEN d.state = 'closed' AND d.failures + 1 >= $3 THEN $2 ELSE d.opened_at END,
                 probes = CASE WHEN d.state = 'closed' THEN 0 ELSE d.probes END,
                 probe_at = CASE WHEN d.state = 'closed' AND d.failures + 1 >= $3
                                 THEN $2::timestamptz + $4::int * interval '1 millisecond' ELSE d.probe_at END
           RETURNING ${COLS})
         SELECT up.*, (up.state = 'open' AND coalesce((SELECT state FROM prev), 'closed') = 'closed') AS opened
           FROM up`,
  values: [b.name, b.at, b.after, b.probeMs, b.error],
});

/** Makes this call the breaker's probe, if a probe is due and none is out (the lease guards a crashed prober). */
export const claimProbeSql = (s: string, name: string, owner: string, at: Date, until: Date): SqlQuery => ({
  text: `UPDATE ${s}.downstreams SET probe_owner = $2, probe_until = $4, updated_at = $3
          WHERE name = $1 AND state = 'open' AND probe_at <= $3 AND (probe_owner IS NULL OR probe_until <= $3)
         RETURNING ${COLS}`,
  values: [name, owner, at, until],
});

/** The probe could not reach it either: the next probe is due later (doubling up to the cap). */
export const probeFailedSql = (
  s: string,
  b: { name: string; owner: string; at: Date; probeMs: number; maxProbeMs: number; error: string },
): SqlQuery => ({
  text: `UPDATE ${s}.downstreams
            SET probes = probes + 1, probe_owner = NULL, probe_until = NULL, failures = failures + 1,
                last_error = $6, updated_at = $3,
                probe_at = $3::timestamptz + least($5::float8, $4::float8 * power(2, least(probes + 1, 30)))
                                             * interval '1 millisecond'
          WHERE name = $1 AND state = 'open' AND probe_owner = $2
         RETURNING ${COLS}`,
  values: [b.name, b.owner, b.at, b.probeMs, b.maxProbeMs, b.error],
});

/**
 * The downstream answered: the breaker closes (consecutive failures back to 0). `closed` says whether it
 * was open. Its open alerts are resolved in the same statement.
 */
export const closeBreakerSql = (s: string, name: string, at: Date): SqlQuery => ({
  text: `WITH prev AS (SELECT state FROM ${s}.downstreams WHERE name = $1),
         c AS (
           UPDATE ${s}.downstreams
              SET state = 'closed', failures = 0, probes = 0, opened_at = NULL, probe_at = NULL,
                  probe_owner = NULL, probe_until = NULL, updated_at = $2
            WHERE name = $1 AND (state = 'open' OR failures > 0)
           RETURNING 1),
         a AS (
           UPDATE ${s}.command_alerts SET resolved_at = $2
            WHERE kind = 'downstream_unreachable' AND resolved_at IS NULL AND data ->> 'downstream' = $1
              AND EXISTS (SELECT 1 FROM c)
           RETURNING 1)
         SELECT (SELECT count(*)::int FROM c) AS n, coalesce((SELECT state FROM prev), 'closed') = 'open' AS closed`,
  values: [name, at],
});

/**
 * Wakes commands paused on a breaker that is no longer open (it closed, or someone reset it): due now,
 * each with a `resumed` event. Commands another transaction holds are left for the next round.
 */
export const wakePausedSql = (s: string, at: Date, name: string | null, limit: number): SqlQuery => ({
  text: `WITH w AS (
           SELECT c.id, c.paused_on FROM ${s}.commands c
            WHERE c.paused_on IS NOT NULL AND c.status = 'pending' AND ($2::text IS NULL OR c.paused_on = $2)
              AND NOT EXISTS (SELECT 1 FROM ${s}.downstreams d WHERE d.name = c.paused_on AND d.state = 'open')
            ORDER BY c.next_at, c.id
            LIMIT $3
              FOR UPDATE SKIP LOCKED),
         u AS (
           UPDATE ${s}.commands c SET next_at = $1, paused_on = NULL, updated_at = $1
             FROM w WHERE c.id = w.id
           RETURNING c.id, w.paused_on),
         ev AS (
           INSERT INTO ${s}.command_events (command_id, kind, data, at)
           SELECT id, 'resumed', jsonb_build_object('downstream', paused_on), $1 FROM u)
         SELECT count(*)::int AS n FROM u`,
  values: [at, name, limit],
});

/**
 * For each open breaker whose probe is due and not out, makes the longest-paused command on it due now,
 * so that a worker drives it and it becomes the probe.
 */
export const dueProbesSql = (s: string, at: Date): SqlQuery => ({
  text: `WITH p AS (
           SELECT (SELECT c.id FROM ${s}.commands c
                    WHERE c.paused_on = d.name AND c.status = 'pending' AND c.next_at > $1
                    ORDER BY c.updated_at, c.id LIMIT 1) AS id
             FROM ${s}.downstreams d
            WHERE d.state = 'open' AND d.probe_at <= $1 AND (d.probe_owner IS NULL OR d.probe_until <= $1))
         UPDATE ${s}.commands c SET next_at = $1 FROM p WHERE c.id = p.id
         RETURNING c.id::text AS id`,
  values: [at],
});
