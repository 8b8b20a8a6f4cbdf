import { checkStatement } from '../statement.js';
import type { Executor, Row, SqlQuery } from '../types.js';
import { wrapMysqlError } from './errors.js';
import { type MysqlServer, memoServer } from './server.js';
import { splitStatements } from './split.js';

/**
 * The part of a mysql2 promise Connection / PoolConnection Tally uses. `query` answers
 * `[rows, fields]` for a SELECT and `[ResultSetHeader, …]` for a write.
 */
export interface MysqlConnectionLike {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

/** A Tally executor over MySQL/MariaDB: the common Executor plus what the server can do. */
export interface MysqlExecutor extends Executor {
  readonly dialect: 'mysql';
  /** The server's kind, version and capability flags, read once (`SELECT VERSION()`). */
  server(): Promise<MysqlServer>;
}

/**
 * Runs one statement on a mysql2 connection and answers rows. A write (no result set) answers one row,
 * its header: `{ affectedRows, insertId, info }` — how MySQL reports what an UPDATE did.
 */
export async function runOn<R extends Row>(conn: MysqlConnectionLike, q: SqlQuery): Promise<R[]> {
  checkStatement(q);
  try {
    const [rows] = await conn.query(q.text, (q.values ?? []) as unknown[]);
    return (Array.isArray(rows) ? rows : [rows]) as R[];
  } catch (err) {
    throw wrapMysqlError(err);
  }
}

/** Runs a script statement by statement (see splitStatements). */
export async function execOn(conn: MysqlConnectionLike, text: string): Promise<void> {
  for (const statement of splitStatements(text)) {
    try {
      await conn.query(statement);
    } catch (err) {
      throw wrapMysqlError(err);
    }
  }
}

/**
 * An executor bound to a transaction the caller opened on their own mysql2 connection
 * (`await conn.beginTransaction()`): Tally's statements join it; commit and rollback stay with the caller.
 *
 * @example
 * const conn = await pool.getConnection();
 * await conn.beginTransaction();
 * await resources.transition({ key: 1, to: 'frozen', actor: 'ops', tx: joinMysql(conn) });
 * await conn.commit();
 */
export function joinMysql(conn: MysqlConnectionLike, server?: () => Promise<MysqlServer>): MysqlExecutor {
  const known =
    server ??
    memoServer(async () => {
      const [row] = await runOn<{ v: string }>(conn, { text: 'SELECT VERSION() AS v' });
      return String(row?.v);
    });
  const self: MysqlExecutor = {
    dialect: 'mysql',
    inTransaction: true,
    query: <R extends Row = Row>(q: SqlQuery) => runOn<R>(conn, q),
    exec: (text: string) => execOn(conn, text),
    transaction: (fn) => fn(self),
    close: async () => {},
    server: known,
  };
  return self;
}
