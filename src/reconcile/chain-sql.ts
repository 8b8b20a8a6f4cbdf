import { fullBeforeSql, hashOkSql, linkOkSql } from '../changes/hash-sql.js';
import type { SqlQuery } from '../db/types.js';

/** The id range of an entity type's log entries, for chunking the chain check. */
export const logIdRangeSql = (s: string, entityType: string): SqlQuery => ({
  text: `SELECT min(id)::int8 AS lo, max(id)::int8 AS hi, count(*)::int8 AS n FROM ${s}.log WHERE entity_type = $1`,
  values: [entityType],
});

/**
 * The chain of the entries with ids in `[lo, hi]`: a chained entry's hash recomputed with the expression
 * Tally wrote it with and its prev_hash compared with the hash of the entity's entry at version - 1; an
 * entry written without a hash (decision 0065) must be past the chain's end (hashOkSql); every entry's
 * (full) before image compared with that entry's after image. Version gaps are the state-log check's
 * (a missing predecessor is not a link failure here). Returns only the entries that fail.
 */
export const chainChunkSql = (s: string, entityType: string, lo: number, hi: number): SqlQuery => ({
  text: failingEntriesSql(s, 'l.id BETWEEN $2 AND $3'),
  values: [entityType, lo, hi],
});

/** The same check over one entity's entries (the console's per-key chain check): one index range. */
export const chainKeySql = (s: string, entityType: string, key: string): SqlQuery => ({
  text: failingEntriesSql(s, 'l.entity_key = $2'),
  values: [entityType, key],
});

/** Every version of one entity's log with its id and action, in order (contiguity, sealed rows). */
export const keyVersionsSql = (s: string, entityType: string, key: string): SqlQuery => ({
  text: `SELECT id::text AS id, version::int8 AS version, action FROM ${s}.log
          WHERE entity_type = $1 AND entity_key = $2 ORDER BY version`,
  values: [entityType, key],
});

const failingEntriesSql = (s: string, where: string) =>
  `SELECT x.entity_key AS key, x.version::int8 AS version, x.bad_hash, x.bad_link, x.bad_image
           FROM (SELECT l.entity_key, l.version, NOT ${hashOkSql(s, 'l')} AS bad_hash,
                        NOT ${linkOkSql('l', 'p.hash')} AS bad_link,
                        p.id IS NOT NULL AND ${fullBeforeSql('l')} IS DISTINCT FROM p.after AS bad_image
                   FROM ${s}.log l
                   LEFT JOIN ${s}.log p ON p.entity_type = l.entity_type AND p.entity_key = l.entity_key
                                       AND p.version = l.version - 1
                  WHERE l.entity_type = $1 AND ${where}) x
          WHERE x.bad_hash OR x.bad_link OR x.bad_image
          ORDER BY x.entity_key, x.version`;
