import type { SqlQuery } from '../db/types.js';

const COLS = `a.id::text AS id, a.command_id::text AS command_id, a.command_type, a.kind, a.message, a.data,
              a.at, a.resolved_at, a.resolved_by, a.resolved_reason`;

/** Alerts, newest first: of one type and/or command, optionally only the open ones. */
export const listAlertsSql = (
  s: string,
  f: { type: string | null; commandId: string | null; open: boolean; limit: number },
): SqlQuery => ({
  text: `SELECT ${COLS}
           FROM ${s}.command_alerts a
          WHERE ($1::text IS NULL OR a.command_type = $1) AND ($2::uuid IS NULL OR a.command_id = $2::uuid)
            AND (NOT $3::boolean OR a.resolved_at IS NULL)
          ORDER BY a.id DESC
          LIMIT $4`,
  values: [f.type, f.commandId, f.open, f.limit],
});

export const alertByIdSql = (s: string, id: string): SqlQuery => ({
  text: `SELECT ${COLS} FROM ${s}.command_alerts a WHERE a.id = $1::bigint`,
  values: [id],
});

/**
 * Resolves an open alert with who and why, and records the command's status at that moment: the
 * commands reconciler does not raise the same mismatch again while the command stays in it. An
 * `alert_resolved` event goes on the command's timeline. An alert already resolved is left as it is.
 */
export const resolveAlertSql = (
  s: string,
  r: { id: string; actor: string; reason: string; at: Date },
): SqlQuery => ({
  text: `WITH a AS (
           UPDATE ${s}.command_alerts a
              SET resolved_at = $4, resolved_by = $2, resolved_reason = $3,
                  resolved_status = (SELECT c.status FROM ${s}.commands c WHERE c.id = a.command_id)
            WHERE a.id = $1::bigint AND a.resolved_at IS NULL
           RETURNING a.*),
         e AS (INSERT INTO ${s}.command_events (command_id, kind, data, at)
               SELECT a.command_id, 'alert_resolved',
                      jsonb_build_object('alert', a.id::text, 'kind', a.kind, 'actor', $2::text,
                                         'reason', $3::text, 'status', a.resolved_status), $4
                 FROM a WHERE a.command_id IS NOT NULL)
         SELECT ${COLS} FROM a`,
  values: [r.id, r.actor, r.reason, r.at],
});
