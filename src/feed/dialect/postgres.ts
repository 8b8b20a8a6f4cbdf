import type { TallyConfig } from '../../config.js';
import { readPage } from '../read.js';
import {
  advanceSql,
  type ConsumerRow,
  claimSql,
  createConsumerSql,
  currentSnapshotSql,
  deleteConsumerSql,
  firstIdAtSql,
  getConsumerSql,
  lagSql,
  releaseSql,
  resetSql,
  setTypesSql,
} from '../sql.js';
import type { FeedStore } from './types.js';

/** PostgreSQL and PGlite: the statements of src/feed/sql.ts (decisions 0040, 0041), unchanged. */
export function postgresFeedStore(config: TallyConfig): FeedStore {
  const { db, s } = config;
  return {
    dialect: 'postgres',
    read: (tx, pos, limit, types, positionsOnly) => readPage(tx, s, pos, limit, types, positionsOnly),
    async lag(pos, types) {
      const [r] = await db.query(lagSql(s, pos, types));
      return {
        entries: Number(r!.entries),
        oldest: r!.oldest === null ? null : new Date(r!.oldest as string | Date),
      };
    },
    async createConsumer(name, source, types, fromNow, beginning, now) {
      await db.query(createConsumerSql(s, name, source, types, fromNow, beginning, now));
    },
    async getConsumer(tx, name, forUpdate = false) {
      const [row] = await tx.query<ConsumerRow>(getConsumerSql(s, name, forUpdate));
      return row;
    },
    async setTypes(name, types) {
      await db.query(setTypesSql(s, name, types));
    },
    async claim(name, owner, now, until) {
      const [row] = await db.query<ConsumerRow>(claimSql(s, name, owner, now, until));
      return row;
    },
    async release(name, owner) {
      await db.query(releaseSql(s, name, owner));
    },
    async advance(tx, name, owner, from, to, delivered, now, until) {
      const rows = await tx.query(advanceSql(s, name, owner, from, to, delivered, now, until));
      return rows.length === 1;
    },
    async reset(name, owner, to, now) {
      return (await db.query(resetSql(s, name, owner, to, now))).length > 0;
    },
    async currentSnapshot() {
      const [r] = await db.query<{ snapshot: string }>(currentSnapshotSql());
      return String(r!.snapshot);
    },
    async firstIdAt(source, at) {
      const [r] = await db.query<{ id: string | null }>(firstIdAtSql(s, source, at));
      return r?.id ?? null;
    },
    async deleteConsumer(name, now) {
      const [r] = await db.query<{ found: boolean; deleted: boolean }>(deleteConsumerSql(s, name, now));
      return { found: r?.found === true, deleted: r?.deleted === true };
    },
  };
}
