import type { SqlQuery } from '../../db/types.js';

export type CallAndCommand = {
  command_id: string;
  key: string;
  principal: string;
  status: string;
  created_at: Date;
  step: string;
  downstream_key: string;
  outcome: 'success' | 'failure' | null;
  sends: number;
};

/**
 * One page of a command type's calls with their commands, in downstream-key order (keyset paging).
 * `open`: only calls no round has settled yet, read through the partial index that holds just those
 * (`command_calls_unreconciled`), so a round costs what is open, not the whole history (decision 0058).
 * The condition is literal text, not a parameter, so the planner can match the index's predicate.
 */
export const callsPageSql = (
  s: string,
  f: {
    type: string;
    step: string | null;
    since: Date | null;
    until: Date | null;
    ids: readonly string[] | null;
    open: boolean;
  },
  after: string,
  limit: number,
): SqlQuery => ({
  text: `SELECT c.id::text AS command_id, c.key, c.principal, c.status, c.created_at,
                k.step, k.downstream_key, k.outcome, k.sends
           FROM ${s}.command_calls k JOIN ${s}.commands c ON c.id = k.command_id
          WHERE ${f.open ? 'k.reconciled_at IS NULL AND ' : ''}c.type = $1 AND ($2::text IS NULL OR k.step = $2)
            AND ($3::timestamptz IS NULL OR c.created_at >= $3) AND ($4::timestamptz IS NULL OR c.created_at < $4)
            AND ($5::uuid[] IS NULL OR c.id = ANY($5::uuid[]))
            AND k.downstream_key > $6
          ORDER BY k.downstream_key
          LIMIT $7`,
  values: [f.type, f.step, f.since, f.until, f.ids, after, limit],
});

/**
 * Marks calls settled: their command had finished and the downstream agreed. A finished command never
 * changes again, so later `open` rounds need not read them; an `all` round still does.
 */
export const settleSql = (s: string, keys: readonly string[], now: Date): SqlQuery => ({
  text: `WITH u AS (UPDATE ${s}.command_calls SET reconciled_at = $2
                     WHERE downstream_key = ANY($1::text[]) AND reconciled_at IS NULL RETURNING 1)
         SELECT count(*)::int AS n FROM u`,
  values: [keys, now],
});

/** Downstream records from a table: key and (optionally) status, for a batch of keys. */
export const downstreamRowsSql = (
  table: string,
  key: string,
  status: string | null,
  keys: readonly string[],
): SqlQuery => ({
  text: `SELECT ${key}::text AS k, ${status === null ? 'NULL' : `${status}::text`} AS s FROM ${table} WHERE ${key} = ANY($1::text[])`,
  values: [keys],
});

/**
 * Makes commands with a pending difference due now, so the worker resolves them next round; only
 * unfinished ones nobody holds and that are not already due. Leaves an event on each timeline.
 */
export const nudgeSql = (s: string, ids: readonly string[], now: Date): SqlQuery => ({
  text: `WITH u AS (
           UPDATE ${s}.commands SET next_at = $2, updated_at = $2
            WHERE id = ANY($1::uuid[]) AND status IN ('pending', 'compensating') AND next_at > $2
              AND (lease_owner IS NULL OR lease_until <= $2)
           RETURNING id),
         e AS (INSERT INTO ${s}.command_events (command_id, kind, data, at)
               SELECT id, 'reconcile_nudge', jsonb_build_object('reason', 'downstream differs'), $2 FROM u)
         SELECT count(*)::int AS n FROM u`,
  values: [ids, now],
});

export const ALERT_KIND = 'reconcile_mismatch';

/**
 * Raises one alert per mismatch unless the last alert naming the same call and kind is still open (a
 * rerun does not alarm twice) or was resolved by a person while the command was in the status it is in
 * now (decision 0058: resolved stays resolved until the command's status changes). Each new alert gets
 * an event on the command's timeline. Answers, per mismatch, `new`, `open` or `resolved`. Serialized by
 * an advisory lock so two reconcilers running at once cannot both raise it.
 */
export const alarmSql = (s: string, rows: readonly object[], now: Date): SqlQuery => ({
  text: `WITH lock AS (SELECT pg_advisory_xact_lock(hashtext('tally.reconcile_mismatch'))),
         x AS (SELECT * FROM jsonb_to_recordset($1::jsonb)
                 AS x(command_id uuid, type text, kind text, downstream_key text, step text, upstream text,
                      downstream text, status text, message text), lock),
         d AS (
           SELECT x.*, CASE WHEN l.id IS NULL THEN 'new'
                            WHEN l.resolved_at IS NULL THEN 'open'
                            WHEN l.resolved_by IS NOT NULL AND l.resolved_status = x.status THEN 'resolved'
                            ELSE 'new' END AS alert
             FROM x LEFT JOIN LATERAL (
                    SELECT a.id, a.resolved_at, a.resolved_by, a.resolved_status
                      FROM ${s}.command_alerts a
                     WHERE a.command_id = x.command_id AND a.kind = '${ALERT_KIND}'
                       AND a.data ->> 'downstreamKey' = x.downstream_key AND a.data ->> 'mismatch' = x.kind
                     ORDER BY a.id DESC LIMIT 1) l ON true),
         ins AS (
           INSERT INTO ${s}.command_alerts (command_id, command_type, kind, message, data, at)
           SELECT d.command_id, d.type, '${ALERT_KIND}', d.message,
                  jsonb_build_object('mismatch', d.kind, 'downstreamKey', d.downstream_key, 'step', d.step,
                                     'upstream', d.upstream, 'downstream', d.downstream, 'status', d.status), $2
             FROM d WHERE d.alert = 'new'
           RETURNING command_id, data),
         ev AS (INSERT INTO ${s}.command_events (command_id, kind, step, data, at)
                SELECT command_id, '${ALERT_KIND}', data ->> 'step', data, $2 FROM ins)
         SELECT d.downstream_key, d.alert FROM d`,
  values: [JSON.stringify(rows), now],
});

/**
 * Re-drive: makes a command due again: `needs_attention` back to `pending`, or a backed-off pending
 * command due now. Idempotent (a command already due is left alone) and logged as an event with the
 * actor and reason.
 */
export const redriveSql = (
  s: string,
  ids: readonly string[],
  now: Date,
  actor: string,
  reason: string,
): SqlQuery => ({
  text: `WITH u AS (
           UPDATE ${s}.commands c
              SET status = CASE WHEN c.status <> 'needs_attention' THEN c.status
                                -- flagged while undoing a definite failure: it goes back to undoing it
                                WHEN c.error IS NOT NULL AND coalesce((c.error ->> 'compensated')::boolean, false) = false
                                THEN 'compensating' ELSE 'pending' END,
                  next_at = $2, updated_at = $2, paused_on = NULL
             FROM ${s}.commands old
            WHERE c.id = old.id AND c.id = ANY($1::uuid[])
              AND (c.status = 'needs_attention' OR (c.status IN ('pending', 'compensating') AND c.next_at > $2))
              AND (c.lease_owner IS NULL OR c.lease_until <= $2)
           RETURNING c.id, old.status AS was),
         e AS (INSERT INTO ${s}.command_events (command_id, kind, data, at)
               SELECT id, 'reconcile_redrive', jsonb_build_object('actor', $3::text, 'reason', $4::text, 'from', was), $2 FROM u)
         SELECT id::text AS id, was FROM u`,
  values: [ids, now, actor, reason],
});
