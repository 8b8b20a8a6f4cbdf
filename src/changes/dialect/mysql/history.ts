import { tallyTable } from '../../../db/mysql/names.js';
import type { Executor, SqlQuery } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import type { EntityRuntime } from '../../apply.js';
import type { LogEntry } from '../../history.js';
import { canonicalKeys, type EntityKey } from '../../keys.js';

/**
 * A log row as read back, in the shape PostgreSQL's history gives: `before` is the full image whichever
 * way it was stored (decision 0007), `at` is UTC text turned into a Date, hashes as hex (NULL since 0065).
 */
const FIELDS = `CAST(l.id AS CHAR) AS id, l.entity_type, l.entity_key, l.version, l.action, l.actor, l.source_ip,
  l.reason, l.request_id, l.command_id,
  CASE WHEN l.before_delta THEN JSON_MERGE_PATCH(l.\`after\`, l.\`before\`) ELSE l.\`before\` END AS \`before\`,
  l.\`after\`, l.changed, DATE_FORMAT(l.at, '%Y-%m-%dT%H:%i:%s.%fZ') AS at, CAST(l.txid AS CHAR) AS txid,
  LOWER(HEX(l.prev_hash)) AS prev_hash, LOWER(HEX(l.hash)) AS hash`;

function logSql(log: string, where: string, order: 'ASC' | 'DESC', values: unknown[]): SqlQuery {
  return {
    text: `SELECT ${FIELDS} FROM ${log} l WHERE l.entity_type = ? AND l.entity_key = ? ${where}
            ORDER BY l.version ${order} LIMIT ?`,
    values,
  };
}

function normalize(row: Record<string, unknown>): LogEntry {
  const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  return {
    ...(row as unknown as LogEntry),
    version: Number(row.version),
    before: parse(row.before) as LogEntry['before'],
    after: parse(row.after) as LogEntry['after'],
    changed: parse(row.changed) as string[],
    at: new Date(String(row.at)),
  };
}

async function keyOf(rt: EntityRuntime, db: Executor, key: EntityKey): Promise<string> {
  const shape = await rt.shape(db);
  return canonicalKeys([key], shape.keyType, rt.def.name)[0]!;
}

/** An entity's log, oldest first. */
export async function historyMysql(
  rt: EntityRuntime,
  db: Executor,
  key: EntityKey,
  limit = 10_000,
): Promise<LogEntry[]> {
  const k = await keyOf(rt, db, key);
  const log = tallyTable(rt.config.schemaName, 'log');
  const rows = await db.query(logSql(log, '', 'ASC', [rt.def.name, k, limit]));
  return rows.map(normalize);
}

/** The row image as of a version or a time, from the log alone (as PostgreSQL's stateAt). */
export async function stateAtMysql(
  rt: EntityRuntime,
  db: Executor,
  key: EntityKey,
  at: { version: number } | { at: Date },
): Promise<Record<string, unknown> | null> {
  const k = await keyOf(rt, db, key);
  const log = tallyTable(rt.config.schemaName, 'log');
  let q: SqlQuery;
  if ('version' in at) {
    if (!Number.isInteger(at.version) || at.version < 0) {
      throw new TallyError('INVALID_SELECTION', 'version must be a non-negative integer');
    }
    q = logSql(log, 'AND l.version <= ?', 'DESC', [rt.def.name, k, at.version, 1]);
  } else {
    if (!(at.at instanceof Date) || Number.isNaN(at.at.getTime())) {
      throw new TallyError('INVALID_SELECTION', 'at must be a valid Date');
    }
    const when = `${at.at.toISOString().slice(0, 23).replace('T', ' ')}999`;
    q = logSql(log, 'AND l.at <= ?', 'DESC', [rt.def.name, k, when, 1]);
  }
  const [row] = await db.query(q);
  if (row) return normalize(row).after;
  const [first] = await db.query(logSql(log, '', 'ASC', [rt.def.name, k, 1]));
  return first ? normalize(first).before : null;
}
