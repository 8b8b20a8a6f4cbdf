import type { SqlQuery } from '../db/types.js';
import type { EntityDefinition } from './definition.js';
import { type HashHeader, insertLogSql } from './hash-sql.js';

/**
 * SQL of adoption (decision 0053): one `adopt` log entry per existing row at version >= 1 that has no log
 * entry yet, its image as the after image, at the row's own version, starting the entity's version sequence.
 */

/** The log action of a genesis entry. Readers that look for a chain's start test for it. */
export const ADOPT_ACTION = 'adopt';
/** The actor every genesis entry records. */
export const ADOPT_ACTOR = 'tally-adopt';

/** `WHERE` of a key range `(lo, hi]` over alias `t`; its values are appended to `values`. */
function rangeSql(
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  hi: string | null,
  values: unknown[],
): string {
  const k = `t.${def.key.sql}`;
  const parts = ['true'];
  if (lo !== null) parts.push(`${k} > $${values.push(lo)}::${keyType}`);
  if (hi !== null) parts.push(`${k} <= $${values.push(hi)}::${keyType}`);
  return parts.join(' AND ');
}

/** A row of `t` that has no log entry at all ($1 is the entity type). */
const unloggedSql = (s: string, def: EntityDefinition) =>
  `NOT EXISTS (SELECT 1 FROM ${s}.log x WHERE x.entity_type = $1 AND x.entity_key = t.${def.key.sql}::text)`;

/** The last key of the next chunk of `size` rows after `lo` (none: the rest of the table is the last chunk). */
export function adoptChunkEndSql(
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  size: number,
): SqlQuery {
  const k = `t.${def.key.sql}`;
  return {
    text: `SELECT ${k}::text AS hi FROM ${def.table.sql} t ${lo === null ? '' : `WHERE ${k} > $2::${keyType}`}
            ORDER BY ${k} OFFSET $1 LIMIT 1`,
    values: lo === null ? [size - 1] : [size - 1, lo],
  };
}

/**
 * The chunk's rows: how many, how many are at version 0 (or NULL: never changed by Tally, nothing to
 * explain, no entry possible at version 0), and how many at version >= 1 have no log entry (to adopt).
 */
export function adoptCountSql(
  s: string,
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  hi: string | null,
): SqlQuery {
  const values: unknown[] = [def.name];
  const v = `t.${def.version.sql}`;
  return {
    text: `SELECT count(*)::int8 AS n,
                  count(*) FILTER (WHERE NOT coalesce(${v} > 0, false))::int8 AS unversioned,
                  count(*) FILTER (WHERE ${v} > 0 AND ${unloggedSql(s, def)})::int8 AS unlogged
             FROM ${def.table.sql} t WHERE ${rangeSql(def, keyType, lo, hi, values)}`,
    values,
  };
}

/**
 * Locks the chunk's rows to adopt in key order, as every Tally change locks its rows (so the two wait
 * for each other instead of deadlocking), and returns their keys. The test for a log entry is repeated
 * by `genesisSql` with a fresh snapshot: a row a Tally change logged while this waited is skipped there.
 */
export function adoptLockSql(
  s: string,
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  hi: string | null,
): SqlQuery {
  const values: unknown[] = [def.name];
  return {
    text: `SELECT coalesce(array_agg(k), '{}') AS keys FROM (
             SELECT t.${def.key.sql}::text AS k FROM ${def.table.sql} t
              WHERE ${rangeSql(def, keyType, lo, hi, values)} AND t.${def.version.sql} > 0 AND ${unloggedSql(s, def)}
              ORDER BY t.${def.key.sql} FOR NO KEY UPDATE OF t) locked`,
    values,
  };
}

/** The header of every genesis entry of one statement: its parameters and constants. */
const GENESIS: HashHeader = {
  entity_type: '$1::text',
  action: `'${ADOPT_ACTION}'::text`,
  actor: '$3::text',
  source_ip: 'NULL::text',
  reason: '$4::text',
  request_id: 'NULL::text',
  command_id: 'NULL::text',
  at: '$5::timestamptz',
};

/**
 * Writes the genesis entries of the locked rows that still have no log entry, in one statement (run after
 * `adoptLockSql`, in the same READ COMMITTED transaction, so its snapshot sees every entry committed
 * before the locks were granted). Like every Tally writer it writes the row and its entry in one
 * statement: the row is rewritten unchanged (`version = version`), so
 * - a transaction that read the row before this commits and changes it afterwards at REPEATABLE READ
 *   (Tally's one-statement transition, or a caller's transaction) fails with a serialization error and
 *   runs again through the locks, seeing this entry, instead of starting a second chain beside it: a
 *   row lock alone does not make PostgreSQL refuse that change;
 * - the after image is the row exactly as stored (`RETURNING`, a BEFORE trigger's changes included) at
 *   the version it has then, and the reconciler's tuple-header proof (decision 0057) holds for it.
 */
export function genesisSql(
  s: string,
  def: EntityDefinition,
  keyType: string,
  keys: readonly string[],
  p: { actor: string; reason: string | null; at: Date },
): SqlQuery {
  const { table, key, version } = def;
  const f = GENESIS;
  const source = `
    SELECT ${f.entity_type} AS entity_type, u.k::text AS entity_key, u.v AS version, ${f.action} AS action,
           ${f.actor} AS actor, ${f.source_ip} AS source_ip, ${f.reason} AS reason, ${f.request_id} AS request_id,
           ${f.command_id} AS command_id, NULL::jsonb AS before, u.after,
           ARRAY(SELECT jsonb_object_keys(u.after) ORDER BY 1) AS changed, ${f.at} AS at
      FROM upd u`;
  return {
    text: `
    WITH c AS (
      SELECT t.${key.sql} AS k FROM ${table.sql} t
       WHERE t.${key.sql} = ANY($2::${keyType}[]) AND t.${version.sql} > 0 AND ${unloggedSql(s, def)}
    ),
    upd AS (
      UPDATE ${table.sql} t SET ${version.sql} = t.${version.sql} FROM c WHERE t.${key.sql} = c.k
      RETURNING t.${key.sql} AS k, t.${version.sql}::int8 AS v, to_jsonb(t) AS after
    ),
    ins AS (${insertLogSql(s, source)} RETURNING 1)
    SELECT (SELECT count(*)::int FROM upd) AS updated, (SELECT count(*)::int FROM ins) AS logged`,
    values: [def.name, keys, p.actor, p.reason, p.at],
  };
}
