import type { SqlQuery } from '../db/types.js';
import { ADOPT_ACTION } from './adopt-sql.js';
import type { EntityDefinition } from './definition.js';
import { fullBeforeSql, hashOkSql, linkOkSql } from './hash-sql.js';

/** A log row `l` as read back; `before` is always the full image (decision 0007). */
const LOG_FIELDS = `id::text AS id, entity_type, entity_key, version::int8 AS version, action, actor, source_ip, reason,
  request_id, command_id, ${fullBeforeSql('l')} AS before, after, changed, at, txid::text AS txid,
  encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash`; // both NULL since decision 0065

export const entityLogSql = (s: string, entityType: string, key: string, limit: number): SqlQuery => ({
  text: `SELECT ${LOG_FIELDS} FROM ${s}.log l WHERE entity_type = $1 AND entity_key = $2 ORDER BY version LIMIT $3`,
  values: [entityType, key, limit],
});

export const logAtVersionSql = (s: string, entityType: string, key: string, version: number): SqlQuery => ({
  text: `SELECT ${LOG_FIELDS} FROM ${s}.log l WHERE entity_type = $1 AND entity_key = $2 AND version <= $3
          ORDER BY version DESC LIMIT 1`,
  values: [entityType, key, version],
});

export const logAtTimeSql = (s: string, entityType: string, key: string, at: Date): SqlQuery => ({
  text: `SELECT ${LOG_FIELDS} FROM ${s}.log l WHERE entity_type = $1 AND entity_key = $2 AND at <= $3
          ORDER BY version DESC LIMIT 1`,
  values: [entityType, key, at],
});

export const firstLogSql = (s: string, entityType: string, key: string): SqlQuery => ({
  text: `SELECT ${LOG_FIELDS} FROM ${s}.log l WHERE entity_type = $1 AND entity_key = $2 ORDER BY version LIMIT 1`,
  values: [entityType, key],
});

/**
 * Folds one entity's log and compares it with its row, in the database: each version follows the last
 * by one, each (full) before image equals the previous after image, each chained entry's hash is right
 * and links to the previous one (entries written since decision 0065 have none, and must be past the
 * chain's end), and the last after image is the row as it is now. A chain may start at a genesis entry
 * of adoption (decision 0053) at any version: the row's version when it was adopted.
 */
export const verifyEntitySql = (
  s: string,
  def: EntityDefinition,
  keyType: string,
  key: string,
): SqlQuery => ({
  text: `
    WITH l AS (
      SELECT x.*, ${fullBeforeSql('x')} AS full_before, lag(x.version) OVER w AS prev_version, lag(x.after) OVER w AS prev_after,
             lag(x.hash) OVER w AS prev_row_hash, ${hashOkSql(s, 'x')} AS hash_ok
        FROM ${s}.log x WHERE x.entity_type = $1 AND x.entity_key = $2
      WINDOW w AS (ORDER BY x.version)
    ),
    r AS (SELECT to_jsonb(t) AS img, t.${def.version.sql}::int8 AS v FROM ${def.table.sql} t
           WHERE t.${def.key.sql} = $2::${keyType})
    SELECT
      (SELECT count(*)::int FROM l) AS entries,
      (SELECT coalesce(json_agg(version ORDER BY version), '[]') FROM l
        WHERE version <> coalesce(prev_version, 0) + 1
          AND NOT (prev_version IS NULL AND action = '${ADOPT_ACTION}')) AS version_gaps,
      (SELECT coalesce(json_agg(version ORDER BY version), '[]') FROM l
        WHERE prev_version IS NOT NULL AND full_before IS DISTINCT FROM prev_after) AS broken_images,
      (SELECT coalesce(json_agg(version ORDER BY version), '[]') FROM l WHERE NOT hash_ok) AS bad_hashes,
      (SELECT coalesce(json_agg(version ORDER BY version), '[]') FROM l
        WHERE NOT ${linkOkSql('l', 'l.prev_row_hash')}) AS broken_links,
      (SELECT max(version)::int8 FROM l) AS last_version,
      (SELECT after FROM l ORDER BY version DESC LIMIT 1) AS last_after,
      (SELECT img FROM r) AS row_image,
      (SELECT v FROM r) AS row_version,
      (SELECT img FROM r) IS NOT DISTINCT FROM (SELECT after FROM l ORDER BY version DESC LIMIT 1) AS row_matches`,
  values: [def.name, key],
});
