import type { SqlQuery } from '../../../db/types.js';

/** The statements the router sends on its own, per server: what differs is how a GTID position is named. */
export interface GtidSql {
  /** Who the primary is: its replication domain (MariaDB) or UUID (MySQL), and its server id. */
  readonly identity: SqlQuery;
  /** The primary's executed position now (at or past every commit that has returned). */
  readonly primaryPosition: SqlQuery;
  /** Right after a statement on the same session: the GTID it committed (MariaDB), and the position. */
  readonly afterWrite: SqlQuery;
  /** A replica's applied position and identity. */
  readonly replicaStatus: SqlQuery;
  /** Blocks until the replica has applied a GTID position, or the timeout (seconds) passes. */
  wait(gtid: string, seconds: number): SqlQuery;
}

export const mariadbSql: GtidSql = {
  identity: { text: 'SELECT @@gtid_domain_id AS domain, @@server_id AS server, NULL AS uuid' },
  primaryPosition: { text: 'SELECT @@gtid_binlog_pos AS pos' },
  // @@last_gtid is the session's last committed GTID: exactly the write's, not everyone else's since.
  afterWrite: { text: 'SELECT @@last_gtid AS last, @@gtid_binlog_pos AS pos' },
  // gtid_slave_pos changes only after the replicated transaction committed, so it never runs ahead of
  // what a reader sees; MASTER_GTID_WAIT waits on the same state.
  replicaStatus: { text: 'SELECT @@gtid_slave_pos AS pos, @@server_id AS server, NULL AS uuid' },
  wait: (gtid, seconds) => ({ text: 'SELECT MASTER_GTID_WAIT(?, ?) AS w', values: [gtid, seconds] }),
};

export const mysql8Sql: GtidSql = {
  identity: { text: 'SELECT 0 AS domain, @@server_id AS server, @@server_uuid AS uuid' },
  primaryPosition: { text: 'SELECT @@GLOBAL.gtid_executed AS pos' },
  afterWrite: { text: 'SELECT NULL AS last, @@GLOBAL.gtid_executed AS pos' },
  replicaStatus: {
    text: 'SELECT @@GLOBAL.gtid_executed AS pos, @@server_id AS server, @@server_uuid AS uuid',
  },
  wait: (gtid, seconds) => ({
    text: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS w',
    values: [gtid, seconds],
  }),
};

/**
 * A primary read at an exact position (MariaDB): a consistent snapshot, the binlog offset InnoDB reports
 * for it, and the GTID position at that offset. Every transaction before the offset is in the snapshot and
 * none after it (the binlog and InnoDB commit in one order).
 */
export const mariadbSnapshotSql = {
  begin: [
    { text: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ' },
    { text: 'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY' },
  ] as readonly SqlQuery[],
  offset: { text: "SHOW STATUS LIKE 'binlog_snapshot_%'" } as SqlQuery,
  /** Where the binlog ends now (for the offset → seq samples, BinlogMap). */
  binlogEnd: { text: 'SHOW MASTER STATUS' } as SqlQuery,
  gtidAt: (file: string, offset: number): SqlQuery => ({
    text: 'SELECT BINLOG_GTID_POS(?, ?) AS pos',
    values: [file, offset],
  }),
  end: { text: 'COMMIT' } as SqlQuery,
};
