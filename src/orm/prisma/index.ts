import type { Executor, Row } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { boundExecutor, notATransaction } from '../bound.js';
import { mysqlBoundExecutor } from '../mysql-bound.js';

/**
 * The part of Prisma's interactive-transaction client Tally uses. The client Prisma hands to
 * `prisma.$transaction(async (tx) => ...)` has no `$connect`/`$disconnect` (Prisma leaves them out), which
 * is how the type tells it from the PrismaClient itself: passing the client, which is not in a
 * transaction, does not compile.
 */
export interface PrismaTransactionClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
  $disconnect?: never;
}

/**
 * Joins Tally's statements to the Prisma interactive transaction you hold (Prisma 7 through its driver
 * adapter: `@prisma/adapter-pg` on PostgreSQL, `@prisma/adapter-mariadb` on MySQL / MariaDB, where the
 * executor is a `mysql` one, decision 0123). Each statement runs as `tx.$queryRawUnsafe` (on MySQL a write
 * as `tx.$executeRawUnsafe`, for its row count) on the transaction's connection, so your writes, the
 * state change and its log row commit or roll back together; a nested `tx.$transaction(...)` (a
 * savepoint, Prisma 7) that fails takes them along.
 *
 * @example
 * import { fromPrisma } from 'tally/prisma';
 * await prisma.$transaction(async (tx) => {
 *   await tx.order.create({ data: { id: 1 } });
 *   await accounts.transition({ key: 7, to: 'frozen', actor: 'shop', tx: fromPrisma(tx) });
 * });
 */
export function fromPrisma<T extends PrismaTransactionClient>(tx: T): Executor {
  const t = tx as { $queryRawUnsafe?: unknown; $disconnect?: unknown } | null;
  if (typeof t?.$queryRawUnsafe !== 'function' || t.$disconnect !== undefined) {
    throw notATransaction('prisma', 'the client of prisma.$transaction(async (tx) => ...)');
  }
  // The client names the schema's datasource provider; private in Prisma's types, so checked here.
  const provider = (tx as { _activeProvider?: unknown })._activeProvider;
  if (provider === 'mysql') {
    return mysqlBoundExecutor(async (text, values) => {
      if (!READS.test(text)) {
        // A write answers a count, not rows ($queryRawUnsafe would answer []), and not the id an
        // AUTO_INCREMENT insert took, which Tally reads (the feed's log_tx seq): the interactive
        // transaction runs on one connection, so LAST_INSERT_ID() right after is that insert's.
        const affectedRows = await tx.$executeRawUnsafe(text, ...values);
        if (!INSERTS.test(text)) return [{ affectedRows }];
        const [last] = await tx.$queryRawUnsafe<{ id: unknown }[]>('SELECT LAST_INSERT_ID() AS id');
        return [{ affectedRows, insertId: String(last?.id) }];
      }
      const rows = await tx.$queryRawUnsafe<Row[]>(text, ...values);
      return Array.isArray(rows) ? rows : [];
    }, fromPrismaMysqlError);
  }
  if (provider !== undefined && provider !== 'postgresql' && provider !== 'postgres') {
    throw new TallyError(
      'INVALID_CONFIG',
      'tally/prisma joins a transaction of a PostgreSQL or MySQL/MariaDB Prisma client',
    );
  }
  return boundExecutor(
    'postgres',
    async (text, values) => {
      const rows = await tx.$queryRawUnsafe<Row[]>(text, ...values);
      return Array.isArray(rows) ? rows : [];
    },
    fromPrismaError,
  );
}

/**
 * Prisma reports a failed raw statement as a known request error (P2010) whose
 * `meta.driverAdapterError.cause` carries the database's SQLSTATE and message; Tally reads the SQLSTATE
 * (`code`) as from its own drivers, so it is put back where they have it.
 */
function fromPrismaError(err: unknown): unknown {
  type Cause = { originalCode?: unknown; code?: unknown; originalMessage?: unknown; message?: unknown };
  const cause = (err as { meta?: { driverAdapterError?: { cause?: Cause } } } | null)?.meta
    ?.driverAdapterError?.cause;
  const code = cause?.originalCode ?? cause?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return err;
  const message = cause?.originalMessage ?? cause?.message;
  return Object.assign(
    new Error(typeof message === 'string' ? message : (err as Error).message, { cause: err }),
    {
      code,
    },
  );
}

/** Statements that answer rows (the rest are writes; a MariaDB `INSERT … RETURNING` answers rows too). */
const READS = /^\s*(?:SELECT|WITH|SHOW|VALUES|EXPLAIN|DESCRIBE)\b|\bRETURNING\b/i;
const INSERTS = /^\s*(?:INSERT|REPLACE)\b/i;

/**
 * The MariaDB adapter keeps the server's error number as `originalCode` (text) in
 * `meta.driverAdapterError.cause`, and its SQLSTATE as `state` when it has no kind of its own for it;
 * they are put back where mysql2 has them (`errno`, `sqlState`), so the error maps as from Tally's own
 * MySQL executor.
 */
function fromPrismaMysqlError(err: unknown): unknown {
  type Cause = { originalCode?: unknown; originalMessage?: unknown; state?: unknown };
  const cause = (err as { meta?: { driverAdapterError?: { cause?: Cause } } } | null)?.meta
    ?.driverAdapterError?.cause;
  const errno = Number(cause?.originalCode);
  if (!Number.isInteger(errno) || errno <= 0) return err;
  const message = typeof cause?.originalMessage === 'string' ? cause.originalMessage : (err as Error).message;
  const sqlState =
    typeof cause?.state === 'string' && /^[0-9A-Z]{5}$/.test(cause.state) ? cause.state : undefined;
  return Object.assign(new Error(message, { cause: err }), { errno, sqlState });
}
