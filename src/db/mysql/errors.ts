import { TallyError } from '../../errors.js';

/**
 * MySQL/MariaDB error numbers → the PostgreSQL SQLSTATE the rest of Tally already answers to. Tally's
 * modules decide on `sqlStateOf(err)` (a duplicate key is 23505, a deadlock 40P01, a lock wait 55P03, a
 * snapshot conflict 40001): mapping here, once, keeps every module free of a second set of numbers.
 * The server's own number and SQLSTATE stay in `details` (mysqlErrno, mysqlSqlState).
 */
const TO_SQLSTATE: Readonly<Record<number, string>> = {
  1062: '23505', // ER_DUP_ENTRY
  1586: '23505', // ER_DUP_ENTRY_WITH_KEY_NAME
  1213: '40P01', // ER_LOCK_DEADLOCK: InnoDB rolled the whole transaction back
  1205: '55P03', // ER_LOCK_WAIT_TIMEOUT: only the statement rolled back (innodb_rollback_on_timeout=OFF)
  3572: '55P03', // ER_LOCK_NOWAIT (MySQL 8.0)
  1020: '40001', // ER_CHECKREAD: MariaDB's innodb_snapshot_isolation found the row changed since the snapshot
  1451: '23503', // ER_ROW_IS_REFERENCED_2
  1452: '23503', // ER_NO_REFERENCED_ROW_2
  1048: '23502', // ER_BAD_NULL_ERROR
  1364: '23502', // ER_NO_DEFAULT_FOR_FIELD
  4025: '23514', // ER_CONSTRAINT_FAILED (MariaDB CHECK)
  3819: '23514', // ER_CHECK_CONSTRAINT_VIOLATED (MySQL 8.0 CHECK)
  1146: '42P01', // ER_NO_SUCH_TABLE
  1054: '42703', // ER_BAD_FIELD_ERROR
  1064: '42601', // ER_PARSE_ERROR
  1406: '22001', // ER_DATA_TOO_LONG
  1264: '22003', // ER_WARN_DATA_OUT_OF_RANGE
  1366: '22P02', // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  1292: '22007', // ER_TRUNCATED_WRONG_VALUE (dates)
  3140: '22P02', // ER_INVALID_JSON_TEXT (MySQL 8.0)
};

/** The errors after which InnoDB has rolled back the whole transaction, or which a retry can clear. */
export const MYSQL_RETRYABLE = new Set(['40P01', '55P03', '40001']);

interface MysqlDriverError extends Error {
  errno?: number;
  sqlState?: string;
  code?: string;
}

/**
 * Wraps a mysql2 error into DB_ERROR with the PostgreSQL-equivalent SQLSTATE in `details.sqlState`.
 * Data errors quote the offending value ("Incorrect integer value: 'x' for column ..."): the message is
 * cut at its first colon, as for PostgreSQL's class 22, so values never reach logs (decision 0009).
 *
 * @example
 * try { await conn.query(sql) } catch (err) { throw wrapMysqlError(err) }
 */
export function wrapMysqlError(err: unknown): unknown {
  if (err instanceof TallyError || !(err instanceof Error)) return err;
  const e = err as MysqlDriverError;
  if (typeof e.errno !== 'number') {
    // Not a server error: a connection refused or closed (ECONNREFUSED, PROTOCOL_CONNECTION_LOST).
    return new TallyError('DB_ERROR', `database error: ${e.message}`, {
      cause: err,
      details: { sqlState: undefined, mysqlCode: e.code },
    });
  }
  const state = TO_SQLSTATE[e.errno] ?? e.sqlState;
  const data = state?.startsWith('22') || e.sqlState?.startsWith('22');
  const colon = e.message.indexOf(':');
  let message = data && colon >= 0 ? e.message.slice(0, colon) : e.message;
  // "Duplicate entry 'c_res-4-1' for key 'log_entity_version'": the entry is the key's values.
  if (state === '23505')
    message = message.replace(/Duplicate entry '.*' for key/s, 'Duplicate entry for key');
  return new TallyError('DB_ERROR', `database error ${state ?? ''} (mysql ${e.errno}): ${message}`, {
    cause: err,
    details: { sqlState: state, mysqlErrno: e.errno, mysqlSqlState: e.sqlState },
  });
}
