import { utcText } from '../../../changes/dialect/mysql/sql.js';
import type { LogEntry } from '../../../changes/history.js';
import type { TallyConfig } from '../../../config.js';
import { tallyTable } from '../../../db/mysql/names.js';
import type { Executor, Row } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import { BEGINNING_SNAPSHOT } from '../../position.js';
import type { Page } from '../../read.js';
import type { ConsumerRow } from '../../sql.js';
import type { FeedEntry, FeedPosition } from '../../types.js';
import type { FeedStore } from '../types.js';
import { takeSnapshot } from './snapshot.js';
import {
  advanceSql,
  claimSql,
  createConsumerSql,
  firstIdAtSql,
  getConsumerSql,
  lagSql,
  pageSql,
  releaseSql,
  resetSql,
  setTypesSql,
  type Tables,
} from './sql.js';

const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

function logEntry(row: Row): FeedEntry {
  const entry: LogEntry = {
    ...(row as unknown as LogEntry),
    version: Number(row.version),
    before: parse(row.before) as LogEntry['before'],
    after: parse(row.after) as LogEntry['after'],
    changed: parse(row.changed) as string[],
    at: new Date(String(row.at)),
  };
  return Object.freeze({ source: 'log', id: entry.id, txid: entry.txid, entry });
}

function consumerRow(r: Row): ConsumerRow {
  return {
    ...(r as unknown as ConsumerRow),
    entity_types: r.entity_types === null ? null : (parse(r.entity_types) as string[]),
    snapshot: String(r.snapshot),
    upper: r.upper === null ? null : String(r.upper),
    after_id: r.after_id === null ? null : String(r.after_id),
  };
}

const affected = (rows: Row[]) =>
  Number((rows[0] as { affectedRows?: number } | undefined)?.affectedRows ?? 0);

/**
 * MySQL 8.0 / MariaDB (decision 0134): the log's source only (command events come with the commands
 * slice). Windows are taken over the per-statement seqs of `<schema>_log_tx` (snapshot.ts); consumers,
 * leases and checkpoints are decision 0041's, with UPDATE + read-back where PostgreSQL has RETURNING.
 */
export function mysqlFeedStore(config: TallyConfig): FeedStore {
  const { db, schemaName } = config;
  const t: Tables = (table) => tallyTable(schemaName, table);
  // Snapshots are always taken on the pool, in autocommit statements: their probes and dead markers must
  // not wait for (or roll back with) a consumer's own transaction.
  const snapshot = (after: string) => takeSnapshot(db, t('log_tx'), t('log_tx_floor'), after);
  const onlyLog = (source: string) => {
    if (source !== 'log') {
      throw new TallyError(
        'INVALID_FEED_OPTIONS',
        'source command_events is not available on the mysql dialect yet (docs/mysql.md)',
      );
    }
  };

  const read = async (
    tx: Executor,
    pos: FeedPosition,
    limit: number,
    types: readonly string[] | null,
  ): Promise<Page> => {
    onlyLog(pos.source);
    const upper = pos.upper ?? (await snapshot(pos.snapshot));
    const rows = await tx.query(pageSql(t, pos.snapshot, upper, pos.afterId ?? '0', limit, types));
    const entries = rows.map(logEntry);
    if (entries.length === 0 && pos.upper !== null) {
      // The window ended exactly on the last page boundary: close it and read the next window at once.
      return read(tx, { source: pos.source, snapshot: pos.upper, upper: null, afterId: null }, limit, types);
    }
    const next: FeedPosition =
      entries.length >= limit
        ? { source: pos.source, snapshot: pos.snapshot, upper, afterId: entries[entries.length - 1]!.id }
        : { source: pos.source, snapshot: upper, upper: null, afterId: null };
    return { entries, next: Object.freeze(next) };
  };

  return {
    dialect: 'mysql',
    read,
    async lag(pos, types) {
      onlyLog(pos.source);
      const hi = await snapshot(pos.upper ?? pos.snapshot);
      const [r] = await db.query(lagSql(t, pos, hi, types));
      return { entries: Number(r!.entries), oldest: r!.oldest === null ? null : new Date(String(r!.oldest)) };
    },
    async createConsumer(name, source, types, fromNow, beginning, now) {
      onlyLog(source);
      const at = fromNow ? await snapshot(BEGINNING_SNAPSHOT) : beginning;
      await db.query(createConsumerSql(t, name, source, types, at, utcText(now)));
    },
    async getConsumer(tx, name, forUpdate = false) {
      const [row] = await tx.query(getConsumerSql(t, name, forUpdate));
      return row ? consumerRow(row) : undefined;
    },
    async setTypes(name, types) {
      await db.query(setTypesSql(t, name, types));
    },
    async claim(name, owner, now, until) {
      await db.query(claimSql(t, name, owner, utcText(now), utcText(until)));
      // No UPDATE … RETURNING: read the row back; it is ours when the lease names this owner.
      const [row] = await db.query(getConsumerSql(t, name, false));
      return row && row.lease_owner === owner ? consumerRow(row) : undefined;
    },
    async release(name, owner) {
      await db.query(releaseSql(t, name, owner));
    },
    async advance(tx, name, owner, from, to, delivered, now, until) {
      const rows = await tx.query(
        advanceSql(t, name, owner, from, to, delivered, utcText(now), utcText(until)),
      );
      return affected(rows) === 1;
    },
    async reset(name, owner, to, now) {
      return affected(await db.query(resetSql(t, name, owner, to, utcText(now)))) > 0;
    },
    currentSnapshot: () => snapshot(BEGINNING_SNAPSHOT),
    async firstIdAt(source, at) {
      onlyLog(source);
      const [r] = await db.query<{ id: string | null }>(firstIdAtSql(t, utcText(at)));
      return r?.id ?? null;
    },
    async deleteConsumer(name, now) {
      return db.transaction(async (tx) => {
        const [c] = await tx.query<{ held: number }>({
          text: `SELECT lease_owner IS NOT NULL AND lease_until >= ? AS held
                   FROM ${t('feed_consumers')} WHERE name = ? FOR UPDATE`,
          values: [utcText(now), name],
        });
        if (!c) return { found: false, deleted: false };
        if (Number(c.held) === 1) return { found: true, deleted: false };
        await tx.query({ text: `DELETE FROM ${t('feed_consumers')} WHERE name = ?`, values: [name] });
        await tx.query({ text: `DELETE FROM ${t('feed_inbox')} WHERE consumer = ?`, values: [name] });
        return { found: true, deleted: true };
      });
    },
  };
}
