import type { MysqlPoolLike } from '../../db/mysql/index.js';
import type { PgPoolLike } from '../../db/postgres/index.js';
import { mysqlReads } from './mysql/index.js';
import { postgresReads } from './postgres/index.js';
import type { ReadsDialect } from './types.js';

export type { ReadsDialect, ReplicaPool, ReplicaProbe, VersionedRows } from './types.js';

/** A primary pool the router accepts: a `pg` Pool or a mysql2 promise Pool. */
export type PrimaryPool = PgPoolLike | MysqlPoolLike;

/**
 * Picks the reads dialect once, from the primary pool's shape: a mysql2 pool hands out connections with
 * `getConnection`, a `pg` pool with `connect`. MariaDB vs MySQL 8.0 follows from `SELECT VERSION()`.
 *
 * @example
 * const d = await readsDialect(new pg.Pool({ connectionString }), 10); // d.name === 'postgres'
 */
export async function readsDialect(primary: PrimaryPool, waitPollMs: number): Promise<ReadsDialect> {
  if (typeof (primary as MysqlPoolLike).getConnection === 'function') {
    return mysqlReads(primary as MysqlPoolLike);
  }
  return postgresReads(primary as PgPoolLike, waitPollMs);
}
