import type { SqlQuery } from '../../../db/types.js';
import { STATUSES } from './commands-sql.js';

// The console's reads other than the commands list, each on an index (decision 0141). `s` is the quoted schema.

const ALERT_COLS = `a.id::text AS id, a.command_id::text AS command_id, a.command_type, a.kind, a.message, a.data,
  a.at, a.resolved_at, a.resolved_by, a.resolved_reason`;

/** Alerts newest first (the primary key, or command_alerts_open for open ones of a type), keyset on id. */
export function listAlertsPageSql(
  s: string,
  f: {
    open: boolean | null;
    type: string | null;
    commandId: string | null;
    afterId: string | null;
    limit: number;
  },
): SqlQuery {
  const values: unknown[] = [];
  const p = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const where = ['true'];
  if (f.open === true) where.push('a.resolved_at IS NULL');
  if (f.open === false) where.push('a.resolved_at IS NOT NULL');
  if (f.type !== null) where.push(`a.command_type = ${p(f.type)}`);
  if (f.commandId !== null) where.push(`a.command_id = ${p(f.commandId)}::uuid`);
  if (f.afterId !== null) where.push(`a.id < ${p(f.afterId)}::bigint`);
  return {
    text: `SELECT ${ALERT_COLS} FROM ${s}.command_alerts a WHERE ${where.join(' AND ')}
            ORDER BY a.id DESC LIMIT ${p(f.limit + 1)}`,
    values,
  };
}

/** The entity types in the log: a loose index scan of log_entity_version (one probe per type). */
export const entityTypesSql = (s: string): SqlQuery => ({
  text: `WITH RECURSIVE t(entity_type) AS (
           (SELECT entity_type FROM ${s}.log ORDER BY entity_type LIMIT 1)
           UNION ALL
           SELECT (SELECT l.entity_type FROM ${s}.log l WHERE l.entity_type > t.entity_type
                    ORDER BY l.entity_type LIMIT 1)
             FROM t WHERE t.entity_type IS NOT NULL)
         SELECT entity_type FROM t WHERE entity_type IS NOT NULL`,
  values: [],
});

const LOG_COLS = `id::text AS id, version::int8 AS version, action, actor, source_ip, reason, request_id, command_id,
  changed, before, after, before_delta, at`;

/** An entity's log rows, newest version first, on log_entity_version. */
export const entityHistorySql = (
  s: string,
  type: string,
  key: string,
  beforeVersion: number | null,
  limit: number,
): SqlQuery => ({
  text: `SELECT ${LOG_COLS} FROM ${s}.log
          WHERE entity_type = $1 AND entity_key = $2 AND ($3::int8 IS NULL OR version < $3::int8)
          ORDER BY version DESC LIMIT $4`,
  values: [type, key, beforeVersion, limit + 1],
});

/** The entity's latest version in the log (null: none). */
export const latestVersionSql = (s: string, type: string, key: string): SqlQuery => ({
  text: `SELECT max(version)::int8 AS v FROM ${s}.log WHERE entity_type = $1 AND entity_key = $2`,
  values: [type, key],
});

/** The log row that gives the entity's state as of a version, or as of a time (the last at or before it). */
export const entityAsOfSql = (
  s: string,
  type: string,
  key: string,
  asOf: { version: number } | { at: Date },
): SqlQuery => ({
  text: `SELECT version::int8 AS version, at, after FROM ${s}.log
          WHERE entity_type = $1 AND entity_key = $2
            AND ${'version' in asOf ? 'version <= $3::int8' : 'at <= $3::timestamptz'}
          ORDER BY version DESC LIMIT 1`,
  values: [type, key, 'version' in asOf ? asOf.version : asOf.at],
});

const JOB_COLS = `j.id::text AS id, j.key, j.entity_type, j.status, j.total, j.changed, j.unchanged, j.rejected,
  j.chunks_done, j.chunk_size, j.error, j.created_at, j.updated_at, j.finished_at,
  to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at_key`;

/** Jobs newest first, keyset on (created_at, id). */
export function listJobsSql(
  s: string,
  f: { statuses: readonly string[] | null; after: readonly [string, string] | null; limit: number },
): SqlQuery {
  return {
    text: `SELECT ${JOB_COLS} FROM ${s}.jobs j
            WHERE ($1::text[] IS NULL OR j.status = ANY($1::text[]))
              AND ($2::text IS NULL OR (j.created_at, j.id) < ($2::timestamp AT TIME ZONE 'UTC', $3::uuid))
            ORDER BY j.created_at DESC, j.id DESC LIMIT $4`,
    values: [f.statuses, f.after?.[0] ?? null, f.after?.[1] ?? null, f.limit + 1],
  };
}

export const jobSql = (s: string, id: string): SqlQuery => ({
  text: `SELECT ${JOB_COLS}, j.op FROM ${s}.jobs j WHERE j.id = $1::uuid`,
  values: [id],
});

/** A job's rejected items in order, keyset on seq (job_items_rejected, migration 15). */
export const rejectedItemsSql = (
  s: string,
  id: string,
  afterSeq: number | null,
  limit: number,
): SqlQuery => ({
  text: `SELECT seq, key, reason, message FROM ${s}.job_items
          WHERE job_id = $1::uuid AND status = 'rejected' AND ($2::int IS NULL OR seq > $2::int)
          ORDER BY seq LIMIT $3`,
  values: [id, afterSeq, limit + 1],
});

export const consumersSql = (s: string): SqlQuery => ({
  text: `SELECT name, source, entity_types, snapshot, upper, after_id::text AS after_id, delivered::int8 AS delivered,
                lease_owner, lease_until, created_at, updated_at
           FROM ${s}.feed_consumers ORDER BY name`,
  values: [],
});

/**
 * Commands by status: one count per status, each an index-only range of commands_status_created (no pass
 * over the heap).
 */
export const countsByStatusSql = (s: string): SqlQuery => ({
  text: STATUSES.map(
    (st) =>
      `SELECT '${st}'::text AS status, (SELECT count(*) FROM ${s}.commands WHERE status = '${st}')::int8 AS n`,
  ).join(' UNION ALL '),
  values: [],
});

/** Commands received since `from`, by time bucket and current status (one index range per status). */
export const overTimeSql = (s: string, bucket: 'minute' | 'hour' | 'day', from: Date): SqlQuery => ({
  text: `SELECT date_trunc('${bucket}', created_at, 'UTC') AS at, status, count(*)::int8 AS n FROM (
           ${STATUSES.map((st) => `SELECT created_at, status FROM ${s}.commands WHERE status = '${st}' AND created_at >= $1::timestamptz`).join(' UNION ALL ')}
         ) x GROUP BY 1, 2 ORDER BY 1`,
  values: [from],
});

export const openAlertsCountSql = (s: string): SqlQuery => ({
  text: `SELECT count(*)::int8 AS n FROM ${s}.command_alerts WHERE resolved_at IS NULL`,
  values: [],
});

export const activeJobsSql = (s: string): SqlQuery => ({
  text: `SELECT ${JOB_COLS} FROM ${s}.jobs j WHERE j.status IN ('pending', 'running') ORDER BY j.created_at DESC LIMIT 50`,
  values: [],
});

export const downstreamsSql = (s: string): SqlQuery => ({
  text: `SELECT name, state, failures, opened_at, probe_at, last_error, updated_at FROM ${s}.downstreams ORDER BY name`,
  values: [],
});
