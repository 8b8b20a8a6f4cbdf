import { wrapMysqlError } from '../db/mysql/errors.js';
import type { MysqlExecutor } from '../db/mysql/join.js';
import { memoServer } from '../db/mysql/server.js';
import { splitStatements } from '../db/mysql/split.js';
import { checkStatement } from '../db/statement.js';
import type { Row, SqlQuery } from '../db/types.js';
import { TallyError } from '../errors.js';

/**
 * Runs one statement through the ORM's MySQL transaction. Answers the rows of a result set, or for a
 * write one row, its header (`{ affectedRows }`): what Tally's own mysql2 executor answers.
 */
export type RunInMysqlTransaction = (text: string, values: unknown[]) => Promise<Row[]>;

/**
 * A MySQL/MariaDB executor whose every statement goes through `run`: a transaction the caller's ORM
 * opened (decision 0123). Tally's MySQL statements expand array values (`IN (?)`, `VALUES ?`) as mysql2's
 * text protocol does; an ORM may send them as prepared statements (Prisma's MariaDB adapter) or through
 * a driver that does not expand, so the lists are expanded here into one `?` per value, the values still
 * sent apart from the text. `toDriverError` takes the ORM's wrapper off the driver's error, so the
 * errno reaches `wrapMysqlError` and the error has the SQLSTATE Tally's own MySQL executor gives it.
 */
export function mysqlBoundExecutor(
  run: RunInMysqlTransaction,
  toDriverError: (err: unknown) => unknown = (err) => err,
): MysqlExecutor {
  const send = async (text: string, values: readonly unknown[]): Promise<Row[]> => {
    const q = expandLists(text, values);
    // mysql2 sends undefined as NULL; an ORM may refuse it (Knex) or send it as text (Prisma).
    q.values = q.values.map((v) => (v === undefined ? null : v));
    try {
      return await run(q.text, q.values);
    } catch (err) {
      throw wrapMysqlError(toDriverError(err));
    }
  };
  const self: MysqlExecutor = {
    dialect: 'mysql',
    inTransaction: true,
    async query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      checkStatement(q);
      return (await send(q.text, q.values ?? [])) as R[];
    },
    async exec(text: string): Promise<void> {
      // One statement per call: an ORM's connection runs several only when opened with multipleStatements.
      for (const statement of splitStatements(text)) await send(statement, []);
    },
    transaction: (fn) => fn(self),
    close: async () => {},
    server: memoServer(async () => String((await send('SELECT VERSION() AS v', []))[0]?.v)),
  };
  return self;
}

/**
 * Expands array values the way mysql2's `query` formats them, but into placeholders: a list becomes
 * `?, ?, ?` (for `IN (?)`), a list of lists `(?, ?), (?, ?)` (for a multi-row `VALUES ?`); an empty list
 * `NULL` (`IN (NULL)` matches nothing). Like mysql2, every `?` in the text is a placeholder: Tally's
 * MySQL statements carry none inside literals.
 *
 * @example
 * expandLists('SELECT 1 FROM t WHERE k IN (?) AND s = ?', [['a', 'b'], 'x']);
 * // { text: 'SELECT 1 FROM t WHERE k IN (?, ?) AND s = ?', values: ['a', 'b', 'x'] }
 */
export function expandLists(text: string, values: readonly unknown[]): { text: string; values: unknown[] } {
  if (!values.some(Array.isArray)) return { text, values: [...values] };
  const out: unknown[] = [];
  let i = 0;
  const expanded = text.replace(/\?/g, () => {
    if (i >= values.length) {
      throw new TallyError(
        'INVALID_STATEMENT',
        `statement has more placeholders than its ${values.length} values`,
      );
    }
    const v = values[i++];
    if (!Array.isArray(v)) {
      out.push(v);
      return '?';
    }
    if (v.length === 0) return 'NULL';
    return v
      .map((item) => {
        if (!Array.isArray(item)) {
          out.push(item);
          return '?';
        }
        out.push(...item);
        return `(${item.map(() => '?').join(', ')})`;
      })
      .join(', ');
  });
  return { text: expanded, values: out };
}
