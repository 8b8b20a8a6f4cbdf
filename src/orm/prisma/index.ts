import type { Executor, Row } from '../../db/types.js';
import { boundExecutor, notATransaction } from '../bound.js';

/**
 * The part of Prisma's interactive-transaction client Tally uses. The client Prisma hands to
 * `prisma.$transaction(async (tx) => ...)` has no `$connect`/`$disconnect` (Prisma leaves them out), which
 * is how the type tells it from the PrismaClient itself: passing the client, which is not in a
 * transaction, does not compile.
 */
export interface PrismaTransactionClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  $disconnect?: never;
}

/**
 * Joins Tally's statements to the Prisma interactive transaction you hold (Prisma 7 on PostgreSQL through
 * its driver adapter, `@prisma/adapter-pg`). Each statement runs as `tx.$queryRawUnsafe` on the
 * transaction's connection, so your writes, the state change and its log row commit or roll back
 * together; a nested `tx.$transaction(...)` (a savepoint, Prisma 7) that fails takes them along.
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
