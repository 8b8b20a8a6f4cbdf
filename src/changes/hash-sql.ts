/**
 * The hash chain's one definition (decision 0004). A log row's hash is
 * `sha256(UTF-8 of header || body)`, two texts built from the row's columns:
 *
 *   header = entity_type, action, actor, source_ip, reason, request_id, command_id, at
 *   body   = ,prev_hash, entity_key, version, before, after, changed
 *
 * joined by commas, each field in a self-delimiting canonical form: text as `quote_nullable` renders it
 * ('…' with quotes doubled, or NULL), the images as jsonb's canonical text (key order and spacing
 * normalized; a JSON value never starts with N, so SQL NULL stays distinct), prev_hash as 64 hex digits,
 * the version as digits, the time in UTC with microseconds so no session setting changes a hash. Each
 * field can be read back from the text unambiguously, so different rows never share a hashed text.
 * The header holds exactly the fields one change statement shares by all its rows: a writer computes
 * it once per statement, a verifier from each row — the same builder, so the two can never disagree.
 */
export interface HashHeader {
  entity_type: string;
  action: string;
  actor: string;
  source_ip: string;
  reason: string;
  request_id: string;
  command_id: string;
  at: string;
}

const HEADER_FIELDS = [
  'entity_type',
  'action',
  'actor',
  'source_ip',
  'reason',
  'request_id',
  'command_id',
] as const;

/** The header text from SQL expressions for its fields (columns of a row, or a statement's parameters). */
export function logHashHeaderSql(f: HashHeader): string {
  const texts = HEADER_FIELDS.map((k) => `quote_nullable(${f[k]})`);
  return `${texts.join(` || ',' || `)} || ',' || to_char(${f.at} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
}

/** The body text over a row alias `x` with the log's columns. */
function logHashBodySql(x: string): string {
  return `',' || coalesce(encode(${x}.prev_hash, 'hex'), 'NULL') || ',' || quote_nullable(${x}.entity_key)
    || ',' || ${x}.version::text || ',' || coalesce(${x}.before::text, 'NULL')
    || ',' || coalesce(${x}.after::text, 'NULL') || ',' || quote_nullable(${x}.changed::text)`;
}

const headerOf = (x: string): HashHeader => ({
  entity_type: `${x}.entity_type`,
  action: `${x}.action`,
  actor: `${x}.actor`,
  source_ip: `${x}.source_ip`,
  reason: `${x}.reason`,
  request_id: `${x}.request_id`,
  command_id: `${x}.command_id`,
  at: `${x}.at`,
});

/**
 * The hash of a log row, as one SQL expression over a row alias `x` with the log's columns.
 * The same expression writes the chain and verifies it, so the two can never disagree.
 * With `header`, the header text is that SQL expression instead (a writer's once-per-statement value).
 */
export function logHashSql(x: string, header?: string): string {
  return `sha256(convert_to((${header ?? logHashHeaderSql(headerOf(x))}) || ${logHashBodySql(x)}, 'UTF8'))`;
}

/** The log columns, in the order `insertLogSql` expects its SELECT to produce them. */
export const LOG_COLUMNS =
  'entity_type, entity_key, version, action, actor, source_ip, reason, request_id, command_id, before, after, changed, at, prev_hash';

/**
 * `INSERT INTO log ... SELECT` over a source query that yields LOG_COLUMNS (named as such);
 * the hash is computed from exactly the values inserted. `OFFSET 0` keeps PostgreSQL from inlining the
 * source into both the column list and the hash, which computed every expression twice.
 * `shared`: when every row's header fields are the same SQL expressions (a change statement's
 * parameters, which the source also selects), the header text is computed once for the statement
 * (an uncorrelated subquery runs once) rather than once per row.
 */
export function insertLogSql(s: string, source: string, shared?: HashHeader): string {
  const header = shared ? `SELECT ${logHashHeaderSql(shared)}` : undefined;
  return `INSERT INTO ${s}.log (${LOG_COLUMNS}, hash)
    SELECT x.entity_type, x.entity_key, x.version, x.action, x.actor, x.source_ip, x.reason, x.request_id,
           x.command_id, x.before, x.after, x.changed, x.at, x.prev_hash, ${logHashSql('x', header)}
      FROM (${source} OFFSET 0) x`;
}
