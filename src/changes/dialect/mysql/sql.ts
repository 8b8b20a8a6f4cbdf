import { backticked } from '../../../db/mysql/names.js';
import type { SqlQuery } from '../../../db/types.js';
import type { EntityDefinition } from '../../definition.js';
import type { TableShape } from '../../introspect.js';

/**
 * The changes module's statements for MySQL 8.0 / MariaDB (decision 0130). No `UPDATE … RETURNING` on
 * either server, so a change is: lock the rows in key order, insert their log rows from the locked rows,
 * update them — each one statement whatever N is. Placeholders are `?`; an array value expands to a list.
 */

/** Header values of a change's log rows, the same for every row of one statement. */
export interface LogHeader {
  entityType: string;
  action: string;
  actor: string;
  ip: string | null;
  reason: string | null;
  requestId: string | null;
  commandId: string | null;
  /** UTC, as DATETIME(6) text (see utcText). */
  at: string;
  /** The statement's feed seq (registerLogTx, decision 0134). */
  txid: string;
}

const LOG_COLUMNS =
  'entity_type, entity_key, version, action, actor, source_ip, reason, request_id, command_id, `before`, `after`, changed, at, txid';

/** A key column as the canonical text the log stores, in the log's own collation (byte order). */
const keyText = (def: EntityDefinition) =>
  `CAST(t.${backticked(def.key.sql)} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin`;

/** The row `t` as a JSON object of every column, in table order: the log's images. */
export function imageSql(shape: TableShape): string {
  const pairs = [...shape.columns.keys()].map((c) => `'${c}', t.\`${c}\``);
  return `JSON_OBJECT(${pairs.join(', ')})`;
}

/** Locks the keys' rows in key order (a stable lock order, so overlapping batches queue, not deadlock). */
export function lockKeysSql(def: EntityDefinition, keys: readonly string[]): SqlQuery {
  const k = backticked(def.key.sql);
  return {
    text: `SELECT ${keyText(def)} AS k, CAST(t.${backticked(def.state.sql)} AS CHAR) AS s
             FROM ${backticked(def.table.sql)} t WHERE t.${k} IN (?) ORDER BY t.${k} FOR UPDATE`,
    values: [keys],
  };
}

/** The keys of rows matching an equality filter, locked in key order. */
export function lockWhereSql(def: EntityDefinition, where: readonly [string, readonly string[]][]): SqlQuery {
  const k = backticked(def.key.sql);
  const conds = where.map(([col]) => `t.${backticked(col)} IN (?)`);
  return {
    text: `SELECT ${keyText(def)} AS k FROM ${backticked(def.table.sql)} t
            WHERE ${conds.join(' AND ')} ORDER BY t.${k} FOR UPDATE`,
    values: where.map(([, values]) => values),
  };
}

/**
 * The log rows of a transition, from the locked rows before they change: the before image is the row,
 * the after image the row with the new state and version — exact when the table's UPDATEs change only
 * what they set (`plainUpdates`); otherwise `fixAfterSql` rewrites it from the updated rows.
 */
export function insertTransitionLogSql(
  log: string,
  def: EntityDefinition,
  shape: TableShape,
  keys: readonly string[],
  to: string,
  h: LogHeader,
): SqlQuery {
  const v = `t.${backticked(def.version.sql)}`;
  const image = imageSql(shape);
  const changed = JSON.stringify([def.state.name, def.version.name].sort());
  return {
    text: `INSERT INTO ${log} (${LOG_COLUMNS})
           SELECT ?, ${keyText(def)}, ${v} + 1, ?, ?, ?, ?, ?, ?, ${image},
                  JSON_SET(${image}, '$.${def.state.name}', ?, '$.${def.version.name}', ${v} + 1), ?, ?, ?
             FROM ${backticked(def.table.sql)} t WHERE t.${backticked(def.key.sql)} IN (?)
            ORDER BY t.${backticked(def.key.sql)}`,
    values: [
      h.entityType,
      h.action,
      h.actor,
      h.ip,
      h.reason,
      h.requestId,
      h.commandId,
      to,
      changed,
      h.at,
      h.txid,
      keys,
    ],
  };
}

export function updateStateSql(def: EntityDefinition, keys: readonly string[], to: string): SqlQuery {
  const v = backticked(def.version.sql);
  return {
    text: `UPDATE ${backticked(def.table.sql)} SET ${backticked(def.state.sql)} = ?, ${v} = ${v} + 1
            WHERE ${backticked(def.key.sql)} IN (?)`,
    values: [to, keys],
  };
}

/** For tables whose UPDATEs change more than they set (triggers, ON UPDATE, generated columns). */
export function fixAfterSql(
  log: string,
  def: EntityDefinition,
  shape: TableShape,
  entityType: string,
  keys: readonly string[],
): SqlQuery {
  return {
    text: `UPDATE ${log} l JOIN ${backticked(def.table.sql)} t
               ON l.entity_key = ${keyText(def)} AND l.version = t.${backticked(def.version.sql)}
              SET l.\`after\` = ${imageSql(shape)}
            WHERE l.entity_type = ? AND t.${backticked(def.key.sql)} IN (?)`,
    values: [entityType, keys],
  };
}

/** Inserts new rows at version 1 (a column a row leaves out is NULL, as on PostgreSQL). */
export function insertRowsSql(
  def: EntityDefinition,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
): SqlQuery {
  const cols = columns.map((c) => `\`${c}\``);
  return {
    text: `INSERT INTO ${backticked(def.table.sql)} (${cols.join(', ')}, ${backticked(def.version.sql)}) VALUES ?`,
    values: [rows.map((r) => [...columns.map((c) => driverValue(r[c])), 1])],
  };
}

/** The `create` log rows of rows just inserted (before image NULL, every column changed). */
export function insertCreateLogSql(
  log: string,
  def: EntityDefinition,
  shape: TableShape,
  keys: readonly string[],
  h: Omit<LogHeader, 'action'>,
): SqlQuery {
  const changed = JSON.stringify([...shape.columns.keys()].sort());
  return {
    text: `INSERT INTO ${log} (${LOG_COLUMNS})
           SELECT ?, ${keyText(def)}, 1, 'create', ?, ?, ?, ?, ?, NULL, ${imageSql(shape)}, ?, ?, ?
             FROM ${backticked(def.table.sql)} t WHERE t.${backticked(def.key.sql)} IN (?)
            ORDER BY t.${backticked(def.key.sql)}`,
    values: [h.entityType, h.actor, h.ip, h.reason, h.requestId, h.commandId, changed, h.at, h.txid, keys],
  };
}

/** A value as mysql2 should send it: objects and arrays as JSON text (mysql2 would make `a = b` pairs). */
function driverValue(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v)) {
    return JSON.stringify(v);
  }
  return v;
}

/**
 * A time as DATETIME(6) text in UTC. Sent as text, not a Date, so the pool's `timezone` setting (a
 * caller's pool may use local time) never shifts what the log records.
 *
 * @example
 * utcText(new Date('2026-12-07T18:00:00.123Z')); // '2026-12-07 18:00:00.123000'
 */
export function utcText(d: Date): string {
  return `${d.toISOString().slice(0, 23).replace('T', ' ')}000`;
}
