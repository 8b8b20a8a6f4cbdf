import type { EntityManager, QueryRunner } from 'typeorm';
import type { Executor, Row } from '../../db/types.js';
import { boundExecutor, notATransaction } from '../bound.js';

/**
 * Joins Tally's statements to the TypeORM transaction you hold: the EntityManager of
 * `dataSource.transaction(async (manager) => ...)` (nested `manager.transaction(...)` calls are savepoints
 * on the same connection), or a QueryRunner after `startTransaction()`. Each statement runs through that
 * QueryRunner, so your writes, the state change and its log row commit or roll back together. The data
 * source must be PostgreSQL (`type: 'postgres'`).
 *
 * @example
 * import { fromTypeORM } from 'tally/typeorm';
 * await dataSource.transaction(async (manager) => {
 *   await manager.insert(Order, { id: 1 });
 *   await accounts.transition({ key: 7, to: 'frozen', actor: 'shop', tx: fromTypeORM(manager) });
 * });
 */
export function fromTypeORM(tx: EntityManager | QueryRunner): Executor {
  const runner = runnerOf(tx);
  if (!runner || runner.isReleased || !runner.isTransactionActive) {
    throw notATransaction(
      'typeorm',
      'the EntityManager of dataSource.transaction(), or a QueryRunner after startTransaction()',
    );
  }
  const type = runner.connection?.options?.type;
  if (type !== 'postgres') {
    throw notATransaction(
      'typeorm',
      `a transaction on a PostgreSQL data source (this one is ${String(type)})`,
    );
  }
  return boundExecutor(
    'postgres',
    async (text, values) => {
      // The structured result answers rows for every statement (the plain one answers [rows, count] for
      // an UPDATE ... RETURNING).
      const res = await runner.query(text, values, true);
      return res.records as Row[];
    },
    // QueryFailedError carries the pg error, SQLSTATE and all, as driverError.
    (err) => (err as { driverError?: unknown } | null)?.driverError ?? err,
  );
}

function runnerOf(tx: EntityManager | QueryRunner): QueryRunner | undefined {
  if (typeof tx !== 'object' || tx === null) return undefined;
  if ('isTransactionActive' in tx && typeof tx.query === 'function') return tx;
  return (tx as EntityManager).queryRunner;
}
