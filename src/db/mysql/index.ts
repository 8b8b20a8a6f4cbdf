import { loadDriver } from '../driver.js';
import { ISOLATION_SQL } from '../isolation.js';
import type { Row, SqlQuery } from '../types.js';
import { wrapMysqlError } from './errors.js';
import { execOn, joinMysql, type MysqlConnectionLike, type MysqlExecutor, runOn } from './join.js';
import { memoServer } from './server.js';

export { MYSQL_RETRYABLE, wrapMysqlError } from './errors.js';
export { joinMysql, type MysqlConnectionLike, type MysqlExecutor } from './join.js';
export { type MysqlServer, serverFromVersion } from './server.js';

/** A connection checked out of a mysql2 promise pool. */
export interface MysqlPoolConnectionLike extends MysqlConnectionLike {
  release(): void;
  destroy?(): void;
}

/** The part of a mysql2 promise Pool (`mysql.createPool(...)` from `mysql2/promise`) Tally uses. */
export interface MysqlPoolLike extends MysqlConnectionLike {
  getConnection(): Promise<MysqlPoolConnectionLike>;
  end?(): Promise<void>;
}

/**
 * A MySQL 8.0 / MariaDB executor over a mysql2 promise pool, or a `mysql://` URL for which a pool is
 * created and owned (`close()` ends it). Statements use `?` placeholders; an array value expands to a
 * list (`IN (?)`). Transactions default to READ COMMITTED, as on PostgreSQL; pass an isolation for others.
 *
 * @example
 * import { createPool } from 'mysql2/promise';
 * const db = mysql(createPool({ uri: 'mysql://root@127.0.0.1:3306/app', timezone: 'Z' }));
 * const tally = await createTally({ db });
 * await tally.migrate();
 */
export function mysql(pool: MysqlPoolLike): MysqlExecutor;
export function mysql(url: string): Promise<MysqlExecutor>;
export function mysql(source: MysqlPoolLike | string): MysqlExecutor | Promise<MysqlExecutor> {
  if (typeof source === 'string') {
    return loadDriver('mysql2', () => import('mysql2/promise')).then((mod) => {
      const createPool = (mod.default ?? mod).createPool;
      // timezone 'Z': DATETIME values are UTC both ways, whatever the process's TZ.
      const pool = createPool({ uri: source, timezone: 'Z', connectionLimit: 10 });
      return fromPool(pool as unknown as MysqlPoolLike, true);
    });
  }
  return fromPool(source, false);
}

function fromPool(pool: MysqlPoolLike, owned: boolean): MysqlExecutor {
  const server = memoServer(async () => {
    const [row] = await runOn<{ v: string }>(pool, { text: 'SELECT VERSION() AS v' });
    return String(row?.v);
  });
  return {
    dialect: 'mysql',
    inTransaction: false,
    server,
    query: <R extends Row = Row>(q: SqlQuery) => runOn<R>(pool, q),
    async exec(text: string): Promise<void> {
      // DDL commits implicitly in MySQL: one connection for the script keeps its session settings.
      await withConnection(pool, (conn) => execOn(conn, text));
    },
    async transaction(fn, options) {
      return withConnection(pool, async (conn, breakIt) => {
        let fromCaller = false;
        try {
          // SET TRANSACTION applies to the next transaction only: the pooled session keeps its default.
          await conn.query(
            `SET TRANSACTION ISOLATION LEVEL ${ISOLATION_SQL[options?.isolation ?? 'read committed']}`,
          );
          await conn.query('START TRANSACTION');
          fromCaller = true;
          const result = await fn(joinMysql(conn, server));
          fromCaller = false;
          await conn.query('COMMIT');
          return result;
        } catch (err) {
          try {
            await conn.query('ROLLBACK');
          } catch {
            breakIt();
          }
          throw fromCaller ? err : wrapMysqlError(err);
        }
      });
    },
    async close() {
      if (owned) await pool.end?.();
    },
  };
}

async function withConnection<T>(
  pool: MysqlPoolLike,
  fn: (conn: MysqlPoolConnectionLike, breakIt: () => void) => Promise<T>,
): Promise<T> {
  let conn: MysqlPoolConnectionLike;
  try {
    conn = await pool.getConnection();
  } catch (err) {
    throw wrapMysqlError(err);
  }
  let broken = false;
  try {
    return await fn(conn, () => {
      broken = true;
    });
  } finally {
    // A connection whose ROLLBACK failed is gone or in an unknown state: never hand it back.
    if (broken && conn.destroy) conn.destroy();
    else conn.release();
  }
}
