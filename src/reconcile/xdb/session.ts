import { postgres } from '../../db/postgres/index.js';
import type { Executor, Row, SqlQuery } from '../../db/types.js';
import { READ_ONLY, SESSION_SETTINGS } from './sql.js';

/** One side's connection for the whole compare. */
export interface Session {
  query<R extends Row = Row>(q: SqlQuery): Promise<R[]>;
  /** Ends the transaction (read only: nothing to keep) and releases the connection. */
  end(): Promise<void>;
}

/**
 * Opens a REPEATABLE READ, read-only transaction that stays open until `end()`: every pass and every
 * bisection level then reads one snapshot, so rows committed meanwhile cannot show up as differences at
 * one level and vanish at the next. The settings that change text forms are fixed for its lifetime.
 */
export async function openSession(db: Executor): Promise<Session> {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let ready!: (tx: Executor) => void;
  let failed!: (err: unknown) => void;
  const opened = new Promise<Executor>((res, rej) => {
    ready = res;
    failed = rej;
  });
  const done = db
    .transaction(
      async (tx) => {
        // A caller's own transaction (a transaction-bound executor) keeps its access mode.
        if (!db.inTransaction) await tx.exec(READ_ONLY);
        await tx.exec(SESSION_SETTINGS);
        ready(tx);
        await released;
      },
      { isolation: 'repeatable read' },
    )
    .catch((err) => {
      failed(err);
    });
  const tx = await opened;
  return {
    query: (q) => tx.query(q),
    async end() {
      release();
      await done;
    },
  };
}

/**
 * Opens one session per executor, all or none: when one side cannot open, the sessions that did are
 * ended before the error is rethrown (no transaction is left open on the other database).
 */
export async function openSessions(dbs: readonly Executor[]): Promise<Session[]> {
  const settled = await Promise.allSettled(dbs.map((db) => openSession(db)));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failed) return settled.map((r) => (r as PromiseFulfilledResult<Session>).value);
  await Promise.all(
    settled.map((r) => (r.status === 'fulfilled' ? r.value.end().catch(() => {}) : Promise.resolve())),
  );
  throw failed.reason;
}

/**
 * Runs `fn` with one session per side; a side given as a connection string gets a pool of its own.
 * Sessions are ended and owned pools closed afterwards, whatever `fn` did.
 *
 * @example
 * const n = await withSides(left, right, ([l, r]) => countBoth(l, r));
 */
export async function withSides<T>(
  left: Executor | string,
  right: Executor | string,
  fn: (sides: [Session, Session]) => Promise<T>,
): Promise<T> {
  const owned: Executor[] = [];
  const open = async (db: Executor | string) => {
    if (typeof db !== 'string') return db;
    const e = await postgres(db);
    owned.push(e);
    return e;
  };
  let sessions: Session[] = [];
  try {
    const dbs = await Promise.all([open(left), open(right)]);
    sessions = await openSessions(dbs);
    return await fn(sessions as [Session, Session]);
  } finally {
    await Promise.all(sessions.map((s) => s.end().catch(() => {})));
    await Promise.all(owned.map((e) => e.close().catch(() => {})));
  }
}
