import { loadDriver } from '../driver.js';
import { wrapDbError } from '../errors.js';
import { ISOLATION_SQL } from '../isolation.js';
import { joinTransaction } from '../joined.js';
import { checkStatement } from '../statement.js';
import type { Executor, QueryableLike, Row, SqlQuery } from '../types.js';
import { openDataDir, type PgliteOptions } from './open.js';
import { templateOptions } from './template.js';

export type { DataDirHolder } from './holder.js';
export { readDataDirHolder } from './lock.js';
export type { PgliteOptions } from './open.js';
export {
  ensurePgliteTemplate,
  PGLITE_TEMPLATE_ENV,
  templateOptions as pgliteTemplateOptions,
} from './template.js';

/** The part of a PGlite instance Tally uses. */
export interface PGliteLike extends QueryableLike {
  exec(text: string): Promise<unknown>;
  transaction<T>(
    fn: (tx: QueryableLike & { exec(text: string): Promise<unknown> }) => Promise<T>,
  ): Promise<T>;
  close(): Promise<void>;
}

/**
 * An executor over embedded PGlite. Pass a PGlite instance, or a data directory (or nothing, for an
 * in-memory database) and Tally opens one that `close()` closes.
 *
 * A data directory has one owner process (decision 0008): Tally takes its lock (`<dir>/tally.lock/`)
 * before PGlite starts, and a second opener — another process, or a second open in this one — fails at
 * once with DATA_DIR_LOCKED naming the holder (pid, command, since when). A dead holder's lock is taken
 * over. With `{ share: true }` the owner lets other Tally processes in through a unix socket in the
 * directory; `{ ifHeld: 'connect' }` connects through it (a `postgres`-dialect executor). The lock is
 * released by `close()` and when the process exits. An instance you pass in is used as it is, unlocked.
 *
 * @example
 * const tally = await createTally({ db: await pglite('./.tally-data', { share: true }) });
 * // in a second process (a worker, a script): through the owner's socket
 * const db = await pglite('./.tally-data', { ifHeld: 'connect' });
 */
export function pglite(db: PGliteLike): Executor;
export function pglite(dataDir?: string, options?: PgliteOptions): Promise<Executor>;
export function pglite(
  source?: PGliteLike | string,
  options: PgliteOptions = {},
): Executor | Promise<Executor> {
  if (typeof source === 'string') {
    return openDataDir(source, options, (db) => fromPGlite(db as PGliteLike, true));
  }
  if (source === undefined) {
    return loadDriver('@electric-sql/pglite', () => import('@electric-sql/pglite')).then(async ({ PGlite }) =>
      fromPGlite((await PGlite.create(templateOptions())) as unknown as PGliteLike, true),
    );
  }
  return fromPGlite(source, false);
}

function fromPGlite(db: PGliteLike, owned: boolean): Executor {
  return {
    dialect: 'pglite',
    inTransaction: false,
    async query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      checkStatement(q);
      try {
        const res = await db.query(q.text, (q.values ?? []) as unknown[]);
        return res.rows as R[];
      } catch (err) {
        throw wrapDbError(err);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await db.exec(text);
      } catch (err) {
        throw wrapDbError(err);
      }
    },
    async transaction(fn, options) {
      // What the callback threw is the caller's (or already wrapped): hand it back untouched.
      const fromCaller = new WeakSet<object>();
      try {
        return await db.transaction(async (tx) => {
          const iso = options?.isolation;
          if (iso) await tx.query(`SET TRANSACTION ISOLATION LEVEL ${ISOLATION_SQL[iso]}`);
          try {
            return await fn(joinTransaction(tx, 'pglite'));
          } catch (err) {
            if (typeof err === 'object' && err !== null) fromCaller.add(err);
            throw err;
          }
        });
      } catch (err) {
        throw typeof err === 'object' && err !== null && fromCaller.has(err) ? err : wrapDbError(err);
      }
    },
    async close() {
      if (owned) await db.close();
    },
  };
}
