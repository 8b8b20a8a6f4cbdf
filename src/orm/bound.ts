import { wrapDbError } from '../db/errors.js';
import { checkStatement } from '../db/statement.js';
import type { DialectName, Executor, Row, SqlQuery } from '../db/types.js';
import { TallyError } from '../errors.js';

/** Runs one statement through the ORM's transaction and answers its rows. */
export type RunInTransaction = (text: string, values: unknown[]) => Promise<Row[]>;

/**
 * An executor whose every statement goes through `run`: a transaction the caller's ORM opened. Tally's
 * statements join it; commit, rollback and savepoints stay with the ORM. `toDriverError` takes an ORM's
 * wrapper off a database error first, so the SQLSTATE reaches Tally (its retries and conflict answers
 * read it) exactly as from its own executors.
 */
export function boundExecutor(
  dialect: DialectName,
  run: RunInTransaction,
  toDriverError: (err: unknown) => unknown = (err) => err,
): Executor {
  const self: Executor = {
    dialect,
    inTransaction: true,
    async query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      checkStatement(q);
      try {
        return (await run(q.text, [...(q.values ?? [])])) as R[];
      } catch (err) {
        throw wrapDbError(toDriverError(err));
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await run(text, []); // no parameters: pg sends it as a simple query, several statements allowed
      } catch (err) {
        throw wrapDbError(toDriverError(err));
      }
    },
    transaction: (fn) => fn(self),
    close: async () => {},
  };
  return self;
}

/** What an adapter throws when handed something that is not an open transaction of its ORM. */
export function notATransaction(orm: string, expected: string): TallyError {
  return new TallyError(
    'INVALID_CONFIG',
    `tally/${orm} joins an open transaction: pass ${expected} (the object your transaction callback receives)`,
  );
}
