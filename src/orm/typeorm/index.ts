import type { EntityManager, QueryRunner } from 'typeorm';
import type { Executor, Row } from '../../db/types.js';
import { boundExecutor, notATransaction } from '../bound.js';
import { mysqlBoundExecutor } from '../mysql-bound.js';

/**
 * Joins Tally's statements to the TypeORM transaction you hold: the EntityManager of
 * `dataSource.transaction(async (manager) => ...)` (nested `manager.transaction(...)` calls are savepoints
 * on the same connection), or a QueryRunner after `startTransaction()`. Each statement runs through that
 * QueryRunner, so your writes, the state change and its log row commit or roll back together. The data
 * source is PostgreSQL (`type: 'postgres'`), or MySQL / MariaDB (`type: 'mysql'` or `'mariadb'`, on
 * mysql2: a `mysql` executor, decision 0123).
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
  // QueryFailedError carries the driver's error (pg's SQLSTATE, mysql2's errno) as driverError.
  const driverError = (err: unknown) => (err as { driverError?: unknown } | null)?.driverError ?? err;
  if (type === 'mysql' || type === 'mariadb') {
    return mysqlBoundExecutor(async (text, values) => {
      // The raw answer is mysql2's: the rows, or for a write its header.
      const res = await runner.query(text, values, true);
      return (Array.isArray(res.raw) ? res.raw : [res.raw]) as Row[];
    }, driverError);
  }
  if (type !== 'postgres') {
    throw notATransaction(
      'typeorm',
      `a transaction on a PostgreSQL, MySQL or MariaDB data source (this one is ${String(type)})`,
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
    driverError,
  );
}

function runnerOf(tx: EntityManager | QueryRunner): QueryRunner | undefined {
  if (typeof tx !== 'object' || tx === null) return undefined;
  if ('isTransactionActive' in tx && typeof tx.query === 'function') return tx;
  return (tx as EntityManager).queryRunner;
}
