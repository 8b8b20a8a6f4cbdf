/**
 * The hash chain's one definition (decision 0004), kept to verify the rows written with it: since
 * migration 10 (decision 0065) writers store no hash, and `hashOkSql` / `linkOkSql` check either kind
 * of row. A chained row's hash is
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
 * The header holds exactly the fields one change statement shares by all its rows (a writer used to
 * compute it once per statement; `HashHeader` still names a writer's per-statement fields).
 *
 * An entry whose `before` holds only the changed fields' old values (`before_delta`, decision 0007) adds
 * one field at the end, `,delta`: the marker is covered by the hash, and entries written with full
 * before images (all entries before migration 6, and every writer but the one-pass transition) hash
 * exactly as before. The text after the self-delimiting `changed` field is either empty or `,delta`,
 * so the two forms can never share a text.
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

/**
 * The body text over a row alias `x` with the log's columns. `delta`: whether the row's before image is
 * the changed fields only — a writer knows it (a constant), a verifier reads it from the row.
 */
function logHashBodySql(x: string, delta: boolean | undefined): string {
  const marker =
    delta === undefined
      ? ` || CASE WHEN ${x}.before_delta THEN ',delta' ELSE '' END`
      : delta
        ? ` || ',delta'`
        : '';
  return `',' || coalesce(encode(${x}.prev_hash, 'hex'), 'NULL') || ',' || quote_nullable(${x}.entity_key)
    || ',' || ${x}.version::text || ',' || coalesce(${x}.before::text, 'NULL')
    || ',' || coalesce(${x}.after::text, 'NULL') || ',' || quote_nullable(${x}.changed::text)${marker}`;
}

/**
 * The full before image of a log row `x`, whichever way it was stored: an entry marked `before_delta`
 * keeps only the old values of the fields it changed, and the rest of the row was as its after image
 * shows it (jsonb `||` takes the right operand's value for a key both sides have). Every reader of
 * `before` goes through this, so a log holding both forms reads as one.
 */
export function fullBeforeSql(x: string): string {
  return `CASE WHEN ${x}.before_delta THEN ${x}.after || ${x}.before ELSE ${x}.before END`;
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
 * With `header`, the header text is that SQL expression instead (a writer's once-per-statement value);
 * with `delta`, the row's `before_delta` is that constant instead of a column of `x` (a writer's).
 */
export function logHashSql(x: string, header?: string, delta?: boolean): string {
  return `sha256(convert_to((${header ?? logHashHeaderSql(headerOf(x))}) || ${logHashBodySql(x, delta)}, 'UTF8'))`;
}

/**
 * Whether row `x`'s stored hash is right. Since migration 10 (decision 0065) writers store no hash: the
 * chain ends at `log_chain.last_chained_id`, and a row after it is checked by its version sequence, its
 * images and (once sealed) the tree instead. A row up to there must still carry the hash it was written
 * with — one without had it stripped — and a row without a hash must have no prev_hash either.
 * An old writer still running after the migration writes chained rows past the end: they are checked
 * as chained rows. `s` is the quoted schema (the end is one uncorrelated subquery, run once).
 */
export function hashOkSql(s: string, x: string): string {
  return `CASE WHEN ${x}.hash IS NULL
                 THEN ${x}.prev_hash IS NULL AND ${x}.id > (SELECT c.last_chained_id FROM ${s}.log_chain c)
               ELSE ${x}.hash = ${logHashSql(x)} END`;
}

/**
 * Whether row `x` links to its predecessor, whose hash is the SQL expression `prevHash`: a chained row's
 * prev_hash is that hash (NULL for an entity's first entry, or after an unchained one); an unchained row
 * has no link, its place is its version (UNIQUE per entity, and contiguous — which readers check).
 */
export function linkOkSql(x: string, prevHash: string): string {
  return `(${x}.hash IS NULL OR ${x}.prev_hash IS NOT DISTINCT FROM ${prevHash})`;
}

/** The log columns every writer inserts, in the order `insertLogSql` expects its SELECT to produce them. */
export const LOG_COLUMNS =
  'entity_type, entity_key, version, action, actor, source_ip, reason, request_id, command_id, before, after, changed, at';

/**
 * `INSERT INTO log ... SELECT` over a source query that yields LOG_COLUMNS (named as such). Since
 * migration 10 (decision 0065) a log row carries no hash and no prev_hash, so no writer probes the
 * entity's previous row: the version (UNIQUE with the entity, and the state row's own version) places
 * it, and the sealed tree pins it. `OFFSET 0` keeps PostgreSQL from inlining the source into the insert.
 * `beforeDelta`: the source's `before` is the old values of the changed fields only (decision 0007);
 * the rows are marked so. Otherwise `before` is the full image.
 */
export function insertLogSql(s: string, source: string, beforeDelta = false): string {
  return `INSERT INTO ${s}.log (${LOG_COLUMNS}${beforeDelta ? ', before_delta' : ''})
    SELECT x.entity_type, x.entity_key, x.version, x.action, x.actor, x.source_ip, x.reason, x.request_id,
           x.command_id, x.before, x.after, x.changed, x.at${beforeDelta ? ', true' : ''}
      FROM (${source} OFFSET 0) x`;
}
