import { type Classification, classifyStatement } from '../../classify.js';

/**
 * MySQL/MariaDB functions that never write and read nothing session-bound, added to the router's list.
 * Left out on purpose, so a statement calling them goes to the primary: GET_LOCK / RELEASE_LOCK /
 * IS_USED_LOCK (locks live on the primary), LAST_INSERT_ID / FOUND_ROW_COUNT / ROW_COUNT (the primary
 * session's), NEXTVAL / LASTVAL / SETVAL (sequences), SLEEP, BENCHMARK, MASTER_GTID_WAIT, LOAD_FILE.
 */
export const MYSQL_SAFE_FUNCTIONS: readonly string[] = [
  ...['if', 'ifnull', 'isnull', 'group_concat', 'json_arrayagg', 'json_objectagg', 'json_object'],
  ...['json_array', 'json_extract', 'json_value', 'json_unquote', 'json_contains', 'json_length'],
  ...['json_keys', 'json_valid', 'json_type', 'date_format', 'date_add', 'date_sub', 'datediff'],
  ...['timestampdiff', 'timestampadd', 'unix_timestamp', 'from_unixtime', 'utc_timestamp', 'curdate'],
  ...['current_timestamp', 'sysdate', 'year', 'month', 'day', 'hour', 'minute', 'second', 'week'],
  ...['dayofweek', 'last_day', 'str_to_date', 'convert', 'convert_tz', 'hex', 'unhex', 'lpad', 'rpad'],
  ...['locate', 'instr', 'find_in_set', 'field', 'elt', 'reverse', 'repeat', 'space', 'ascii', 'ord'],
  ...['sha1', 'sha2', 'crc32', 'uuid', 'rand', 'truncate', 'pow', 'ln', 'log', 'log10', 'exp', 'match'],
  ...['std', 'stddev', 'variance', 'bit_and', 'bit_or', 'bit_xor', 'interval'],
];

let last: { given: ReadonlySet<string>; merged: ReadonlySet<string> } | null = null;

/**
 * Classifies a MySQL/MariaDB statement (decision 0102's allow-list with MySQL's lexer: backtick identifiers,
 * backslash escapes, `#` comments; `LOCK IN SHARE MODE` is a locking read; an executable comment is
 * unclassifiable).
 *
 * @example
 * classifyMysql('SELECT * FROM `t` WHERE id = ? LOCK IN SHARE MODE', new Set()) // reason 'LOCKING_READ'
 */
export function classifyMysql(text: string, safeFunctions: ReadonlySet<string>): Classification {
  // The router passes the same set every time: merge it once.
  if (last?.given !== safeFunctions) {
    last = { given: safeFunctions, merged: new Set([...safeFunctions, ...MYSQL_SAFE_FUNCTIONS]) };
  }
  return classifyStatement(text, last.merged, 'mysql');
}
