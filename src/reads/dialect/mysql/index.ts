import { type MysqlPoolLike, mysql, wrapMysqlError } from '../../../db/mysql/index.js';
import { type MysqlConnectionLike, runOn } from '../../../db/mysql/join.js';
import type { Row, SqlQuery } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import type { Lsn } from '../../lsn.js';
import type { ReadsDialect, ReplicaPool } from '../types.js';
import { BinlogMap } from './binlog-map.js';
import { classifyMysql } from './classify.js';
import { mariadbSeq, mysqlSeq, parseMariadbGtid } from './gtid.js';
import { type GtidSql, mariadbSnapshotSql, mariadbSql, mysql8Sql } from './sql.js';

/** How one server family names and reads positions; the rest of the dialect is shared. */
interface Family {
  readonly name: 'mariadb' | 'mysql';
  readonly sql: GtidSql;
  /** The shard's position in a position text. */
  seq(text: unknown): Lsn | null;
  /** The GTID text that waits for a position. */
  gtid(seq: Lsn): string;
  /** A primary read and the version it is at. */
  readOnPrimary<R extends Row>(q: SqlQuery): Promise<{ rows: R[]; version: Lsn }>;
  /** The primary's position now (MariaDB also samples the binlog offset for later versions). */
  position(): Promise<Lsn>;
}

/**
 * Reads on MariaDB and MySQL 8.0 (decision 0136): a position is the sequence number of the primary's
 * replication domain (MariaDB) or of its server UUID (MySQL), replicas wait with `MASTER_GTID_WAIT` /
 * `WAIT_FOR_EXECUTED_GTID_SET`, lag is measured from samples of the primary's position as on PostgreSQL.
 */
export async function mysqlReads(pool: MysqlPoolLike): Promise<ReadsDialect> {
  const primary = mysql(pool);
  const server = await primary.server();
  const sql = server.mariadbGtid ? mariadbSql : mysql8Sql;
  const [id] = await primary.query<{ domain: unknown; server: unknown; uuid: unknown }>(sql.identity);
  const primaryServer = String(id?.server);
  const family: Family = server.mariadbGtid
    ? mariadbFamily(pool, Number(id?.domain), Number(id?.server))
    : mysql8Family(pool, String(id?.uuid));
  await family.position();
  const position = () => family.position();
  const applied = async (p: ReplicaPool) => {
    const [row] = await runOn<{ pos: unknown; server: unknown }>(replica(p), family.sql.replicaStatus);
    return { replay: family.seq(row?.pos), server: String(row?.server) };
  };

  return Object.freeze({
    name: family.name,
    primary,
    classify: classifyMysql,
    primaryPosition: position,
    async writeOnPrimary<R extends Row>(q: SqlQuery) {
      return withConnection(pool, async (conn) => {
        const rows = await runOn<R>(conn, q);
        const [after] = await runOn<{ last: unknown; pos: unknown }>(conn, family.sql.afterWrite);
        const last = family.name === 'mariadb' ? parseMariadbGtid(after?.last) : null;
        const pos = must(family.seq(after?.pos));
        // The session's own GTID when it is in the shard's domain; else (no write yet on this session, or
        // another domain) the primary's whole position, which is at or past it.
        const own = last !== null && family.seq(`${last.domain}-${last.server}-${last.seq}`) === last.seq;
        return { rows, position: own && last!.seq <= pos ? last!.seq : pos };
      });
    },
    async readOnPrimary<R extends Row>(q: SqlQuery, withVersion: boolean) {
      if (withVersion) return family.readOnPrimary<R>(q);
      return { rows: await primary.query<R>(q), version: null };
    },
    async readOnReplica<R extends Row>(p: ReplicaPool, q: SqlQuery, withVersion: boolean) {
      // The applied position read before the statement: only committed transactions count in it.
      const version = withVersion ? (await applied(p)).replay : null;
      return { rows: await runOn<R>(replica(p), q), version };
    },
    async probe(p: ReplicaPool) {
      const a = await applied(p);
      // The primary itself, configured as a replica by mistake, is not replaying anything.
      return { standby: a.server !== primaryServer, replay: a.replay };
    },
    async advance(p: ReplicaPool, target: Lsn, waitMs: number) {
      const seconds = Math.max(0.001, waitMs / 1000);
      await runOn(replica(p), family.sql.wait(family.gtid(target), seconds));
      return (await applied(p)).replay;
    },
    reached: (r: Lsn | null, target: Lsn) => r !== null && r >= target,
    distance: (p: Lsn, r: Lsn) => (p > r ? Number(p - r) : 0),
  });
}

function mariadbFamily(pool: MysqlPoolLike, domain: number, serverId: number): Family {
  const map = new BinlogMap();
  const seqOf = async (): Promise<Lsn> => {
    const [row] = await runOn<{ pos: unknown }>(pool, mariadbSql.primaryPosition);
    return must(mariadbSeq(row?.pos, domain));
  };
  // The position, and a (binlog offset → seq) sample when no GTID was written while the offset was read.
  const position = async (): Promise<Lsn> => {
    const before = await seqOf();
    const [end] = await runOn<{ File?: string; Position?: unknown }>(pool, mariadbSnapshotSql.binlogEnd);
    const after = await seqOf();
    const offset = Number(end?.Position);
    if (before === after && end?.File && Number.isSafeInteger(offset)) map.record(end.File, offset, before);
    return after;
  };
  return {
    name: 'mariadb',
    sql: mariadbSql,
    position,
    seq: (text) => mariadbSeq(text, domain),
    // MASTER_GTID_WAIT compares the seq per domain; the server id part is not compared.
    gtid: (seq) => `${domain}-${serverId}-${seq}`,
    readOnPrimary: <R extends Row>(q: SqlQuery) =>
      withConnection(pool, async (conn) => {
        for (const s of mariadbSnapshotSql.begin) await runOn(conn, s);
        try {
          const status = await runOn<{ Variable_name: string; Value: string }>(
            conn,
            mariadbSnapshotSql.offset,
          );
          const file = status.find((r) => /file$/i.test(r.Variable_name))?.Value;
          const offset = Number(status.find((r) => /position$/i.test(r.Variable_name))?.Value);
          if (!file || !Number.isSafeInteger(offset)) {
            throw new TallyError('INVALID_ROUTER_OPTIONS', 'the primary has no binary log (log_bin is off)');
          }
          // A sample at or before the snapshot's offset gives a lower bound at once; a fresh sample often
          // lands exactly on it (an idle moment). Only without either (just after a binlog rotation, a
          // short file) is the offset read from the binlog itself.
          let version = map.at(file, offset);
          if (!map.reaches(file, offset)) {
            await position();
            version = map.at(file, offset) ?? version;
          }
          if (version === null) {
            const [at] = await runOn<{ pos: unknown }>(conn, mariadbSnapshotSql.gtidAt(file, offset));
            version = must(mariadbSeq(at?.pos, domain));
          }
          const rows = await runOn<R>(conn, q);
          return { rows, version };
        } finally {
          await runOn(conn, mariadbSnapshotSql.end);
        }
      }),
  };
}

function mysql8Family(pool: MysqlPoolLike, uuid: string): Family {
  return {
    name: 'mysql',
    sql: mysql8Sql,
    async position() {
      const [row] = await runOn<{ pos: unknown }>(pool, mysql8Sql.primaryPosition);
      return must(mysqlSeq(row?.pos, uuid));
    },
    seq: (text) => mysqlSeq(text, uuid),
    gtid: (seq) => `${uuid}:1-${seq}`,
    // MySQL 8.0 adds a transaction to gtid_executed after its engine commit (not verified here: no MySQL
    // on this machine; decision 0136), so the set read before the statement is within its snapshot.
    readOnPrimary: <R extends Row>(q: SqlQuery) =>
      withConnection(pool, async (conn) => {
        const [row] = await runOn<{ pos: unknown }>(conn, mysql8Sql.primaryPosition);
        const version = must(mysqlSeq(row?.pos, uuid));
        return { rows: await runOn<R>(conn, q), version };
      }),
  };
}

function replica(p: ReplicaPool): MysqlConnectionLike {
  return p as MysqlConnectionLike;
}

function must(seq: Lsn | null): Lsn {
  if (seq === null) throw new TallyError('DB_ERROR', 'the server answered a GTID position Tally cannot read');
  return seq;
}

async function withConnection<T>(
  pool: MysqlPoolLike,
  fn: (conn: MysqlConnectionLike) => Promise<T>,
): Promise<T> {
  let conn: Awaited<ReturnType<MysqlPoolLike['getConnection']>>;
  try {
    conn = await pool.getConnection();
  } catch (err) {
    throw wrapMysqlError(err);
  }
  try {
    return await fn(conn);
  } finally {
    // Nothing stays open on the session: autocommit statements, or a snapshot ended by its COMMIT.
    conn.release();
  }
}
