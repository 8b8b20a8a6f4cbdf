/**
 * The hash of a log row, as one SQL expression over a row alias `x` with the log's columns.
 * The same expression writes the chain and verifies it, so the two can never disagree.
 * jsonb_build_array(...)::text is canonical (jsonb normalizes key order and spacing) and unambiguous
 * (every field is a JSON value, NULLs included), and the time is rendered in UTC so the session's
 * TimeZone setting cannot change a hash.
 */
export function logHashSql(x: string): string {
  return `sha256(convert_to(jsonb_build_array(
    encode(${x}.prev_hash, 'hex'), ${x}.entity_type, ${x}.entity_key, ${x}.version, ${x}.action, ${x}.actor,
    ${x}.source_ip, ${x}.reason, ${x}.request_id, ${x}.command_id, ${x}.before, ${x}.after, ${x}.changed,
    to_char(${x}.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'))::text, 'UTF8'))`;
}

/** The log columns, in the order `insertLogSql` expects its SELECT to produce them. */
export const LOG_COLUMNS =
  'entity_type, entity_key, version, action, actor, source_ip, reason, request_id, command_id, before, after, changed, at, prev_hash';

/**
 * `INSERT INTO log ... SELECT` over a source query that yields LOG_COLUMNS (named as such);
 * the hash is computed from exactly the values inserted. `OFFSET 0` keeps PostgreSQL from inlining the
 * source into both the column list and the hash, which computed every expression twice.
 */
export function insertLogSql(s: string, source: string): string {
  return `INSERT INTO ${s}.log (${LOG_COLUMNS}, hash)
    SELECT x.entity_type, x.entity_key, x.version, x.action, x.actor, x.source_ip, x.reason, x.request_id,
           x.command_id, x.before, x.after, x.changed, x.at, x.prev_hash, ${logHashSql('x')}
      FROM (${source} OFFSET 0) x`;
}
