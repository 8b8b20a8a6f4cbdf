import type { Executor, QueryableLike, Row, SqlQuery } from '../../db/types.js';
import type { Classification } from '../classify.js';
import type { Lsn } from '../lsn.js';

/**
 * A replica connection as the caller gives it: a `pg` Pool (`query` answers `{ rows }`) or a mysql2 promise
 * Pool (`query` answers `[rows, fields]`). Which one it is follows from the primary's dialect.
 */
export type ReplicaPool =
  | QueryableLike
  | { query(sql: string, values?: unknown): Promise<[unknown, unknown]> };

/** What one probe of a replica says. */
export interface ReplicaProbe {
  /** False when the node is not replaying this primary (a promoted standby, a stand-alone server). */
  readonly standby: boolean;
  /** How far it has applied, in the dialect's position (null: not known yet). */
  readonly replay: Lsn | null;
}

/** A statement's rows and, when asked, the position the result is at least as new as. */
export interface VersionedRows<R extends Row = Row> {
  readonly rows: R[];
  readonly version: Lsn | null;
}

/**
 * Everything the read router needs from the servers behind it, per dialect (decision 0130's seam; 0136 for
 * MySQL/MariaDB). Positions are one 64-bit number per shard whatever the dialect: a WAL byte offset on
 * PostgreSQL, a GTID sequence number in the shard's replication domain on MariaDB, the transaction number of
 * the source's UUID on MySQL 8.0. Tokens, lag samples and cache versions compare them as plain numbers.
 * Picked once, from the primary connection (`readsDialect`); the router never names a dialect.
 */
export interface ReadsDialect {
  readonly name: 'postgres' | 'mariadb' | 'mysql';
  /** The primary as a Tally executor (whole transactions, `exec`, the executor's own statements). */
  readonly primary: Executor;
  /** Decides whether a statement may run on a replica, in this dialect's SQL. */
  classify(text: string, safeFunctions: ReadonlySet<string>): Classification;
  /** The primary's position now; after a commit returned it is at or past that commit. */
  primaryPosition(): Promise<Lsn>;
  /** Runs a statement that may write on the primary; `position` reads everything it committed. */
  writeOnPrimary<R extends Row>(q: SqlQuery): Promise<{ rows: R[]; position: Lsn }>;
  /** Runs a read on the primary; with `withVersion`, a version no newer than what the read saw. */
  readOnPrimary<R extends Row>(q: SqlQuery, withVersion: boolean): Promise<VersionedRows<R>>;
  /** Runs a read on a replica; with `withVersion`, the replica's applied position taken before it. */
  readOnReplica<R extends Row>(
    pool: ReplicaPool,
    q: SqlQuery,
    withVersion: boolean,
  ): Promise<VersionedRows<R>>;
  /** One health probe. Throws when the replica does not answer. */
  probe(pool: ReplicaPool): Promise<ReplicaProbe>;
  /**
   * Waits up to `waitMs` for the replica to apply `target` (a poll interval on PostgreSQL, a blocking
   * `MASTER_GTID_WAIT` on MariaDB), then answers its applied position. Throws when the replica fails.
   */
  advance(pool: ReplicaPool, target: Lsn, waitMs: number): Promise<Lsn | null>;
  /** True once a replica at `replay` has applied everything a token at `target` asks for. */
  reached(replay: Lsn | null, target: Lsn): boolean;
  /** How far `replay` is behind `primary`: WAL bytes on PostgreSQL, transactions on MySQL/MariaDB. */
  distance(primary: Lsn, replay: Lsn): number;
}
