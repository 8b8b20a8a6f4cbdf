import { ADOPT_ACTION } from '../changes/adopt-sql.js';
import { fullBeforeSql, hashOkSql, linkOkSql } from '../changes/hash-sql.js';
import type { SqlQuery } from '../db/types.js';

/**
 * One entity's log rows, oldest first, each with its chain checks computed in the database: a chained
 * row's hash matches it (the expression that wrote it) and prev_hash is the previous row's hash (rows
 * written since decision 0065 carry neither, and must be past the chain's end), the (full) before image
 * is the previous row's after image, and the version follows the previous one by one (a chain may start at a genesis entry of adoption
 * at any version, decision 0053). `s` is the quoted schema name.
 */
export const entityLogRowsSql = (s: string, entityType: string, key: string): SqlQuery => ({
  text: `
    SELECT x.id::text AS id, x.version::int8 AS version, x.action, x.actor, x.source_ip, x.reason,
           x.request_id, x.command_id, ${fullBeforeSql('x')} AS before, x.after, x.changed, x.at, x.txid::text AS txid,
           encode(x.prev_hash, 'hex') AS prev_hash, encode(x.hash, 'hex') AS hash,
           ${hashOkSql(s, 'x')} AS hash_ok,
           ${linkOkSql('x', 'lag(x.hash) OVER w')} AS link_ok,
           lag(x.version) OVER w IS NULL OR ${fullBeforeSql('x')} IS NOT DISTINCT FROM lag(x.after) OVER w AS image_ok,
           x.version = coalesce(lag(x.version) OVER w, 0) + 1
             OR (lag(x.version) OVER w IS NULL AND x.action = '${ADOPT_ACTION}') AS version_ok
      FROM ${s}.log x
     WHERE x.entity_type = $1 AND x.entity_key = $2
    WINDOW w AS (ORDER BY x.version)
     ORDER BY x.version`,
  values: [entityType, key],
});

/** Whether Tally's log table exists in the schema (it does once `tally migrate` ran). */
export const logTablePresentSql = (s: string): SqlQuery => ({
  text: `SELECT to_regclass($1) IS NOT NULL AS present`,
  values: [`${s}.log`],
});
