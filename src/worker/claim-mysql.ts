import { utcText } from '../changes/dialect/mysql/sql.js';
import type { TallyConfig } from '../config.js';
import type { MysqlExecutor } from '../db/mysql/join.js';
import { tallyTable } from '../db/mysql/names.js';
import type { SqlQuery } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { ClaimDue, Claimed } from './claim.js';

/**
 * The due commands, locked with `FOR UPDATE SKIP LOCKED` (MySQL 8.0, MariaDB 10.6+): workers claiming side
 * by side skip each other's rows instead of waiting. The scan walks `commands_due (due_at)` — next_at of
 * unfinished commands only, and with the primary key inside it already in claim order — so InnoDB stops
 * locking at the LIMIT. A sorted scan would lock every due row it read and leave a second worker nothing.
 */
const dueSql = (commands: string, c: ClaimDue): SqlQuery => ({
  text: `SELECT id, type, trace_context FROM ${commands} FORCE INDEX (commands_due)
          WHERE due_at <= ? AND type IN (?) AND (lease_owner IS NULL OR lease_until <= ?)
          ORDER BY due_at, id
          LIMIT ?
            FOR UPDATE SKIP LOCKED`,
  values: [utcText(c.now), c.types, utcText(c.now), c.limit],
});

const leaseSql = (commands: string, ids: readonly string[], c: ClaimDue): SqlQuery => ({
  text: `UPDATE ${commands} SET lease_owner = ?, lease_until = ?, updated_at = ? WHERE id IN (?)`,
  values: [c.owner, utcText(c.until), utcText(c.now), ids],
});

const claimedEventsSql = (events: string, ids: readonly string[], c: ClaimDue): SqlQuery => ({
  text: `INSERT INTO ${events} (command_id, kind, data, at) VALUES ${ids.map(() => "(?, 'claimed', ?, ?)").join(', ')}`,
  values: ids.flatMap((id) => [
    id,
    JSON.stringify({ worker: c.owner, leaseUntil: c.until.toISOString() }),
    utcText(c.now),
  ]),
});

/**
 * MySQL/MariaDB: no `UPDATE … RETURNING`, so the claim is the locking read, then the lease and the
 * `claimed` events for what it read, in one transaction. A server without SKIP LOCKED is refused.
 */
export async function claimDueMysql(config: TallyConfig, c: ClaimDue): Promise<Claimed[]> {
  const server = await (config.db as MysqlExecutor).server?.();
  if (server && !server.skipLocked) {
    throw new TallyError(
      'INVALID_CONFIG',
      `the worker needs FOR UPDATE SKIP LOCKED (MySQL 8.0, MariaDB 10.6+); this server is ${server.version}`,
    );
  }
  const commands = tallyTable(config.schemaName, 'commands');
  const events = tallyTable(config.schemaName, 'command_events');
  return config.db.transaction(async (tx) => {
    const due = await tx.query<Claimed>(dueSql(commands, c));
    if (due.length === 0) return [];
    const ids = due.map((r) => String(r.id));
    await tx.query(leaseSql(commands, ids, c));
    await tx.query(claimedEventsSql(events, ids, c));
    return due.map((r) => ({
      id: String(r.id),
      type: String(r.type),
      trace_context: r.trace_context == null ? null : String(r.trace_context),
    }));
  });
}
