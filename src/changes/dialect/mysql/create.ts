import { type ChangeContext, resolveContext } from '../../../context.js';
import { tallyTable } from '../../../db/mysql/names.js';
import type { Executor } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import type { EntityRuntime } from '../../apply.js';
import { checkCreateRows } from '../../create-check.js';
import type { EntityKey } from '../../keys.js';
import { registerLogTx } from './log-tx.js';
import { inCallersSavepoint } from './savepoint.js';
import { insertCreateLogSql, insertRowsSql, utcText } from './sql.js';

/**
 * Inserts new rows at version 1 with a `create` log entry each: one multi-row INSERT, then one
 * INSERT … SELECT of the log rows from the rows as stored (defaults filled in), in one transaction.
 * The checks are every dialect's (create-check.ts), so both refuse the same input the same way.
 */
export async function createMysql(
  rt: EntityRuntime,
  db: Executor,
  rows: readonly Record<string, unknown>[],
  context: ChangeContext | undefined,
): Promise<{ created: EntityKey[] }> {
  const ctx = resolveContext(context);
  const { def, config } = rt;
  const { shape, columns, keys } = await checkCreateRows(rt, db, rows);
  const log = tallyTable(config.schemaName, 'log');
  const at = utcText(config.clock());
  const write = async (tx: Executor) => {
    const [ins] = await tx.query<{ affectedRows: number }>(insertRowsSql(def, columns, rows));
    const header = { entityType: def.name, ...ctx, at, txid: await registerLogTx(tx, config.schemaName) };
    const [logged] = await tx.query<{ affectedRows: number }>(
      insertCreateLogSql(log, def, shape, keys, header),
    );
    if (Number(ins?.affectedRows) !== rows.length || Number(logged?.affectedRows) !== rows.length) {
      throw new TallyError(
        'DB_ERROR',
        `entity ${def.name}: inserted ${ins?.affectedRows} rows and ${logged?.affectedRows} log rows of ${rows.length}`,
      );
    }
  };
  // In the caller's transaction, a refused log INSERT must not leave the rows behind (savepoint.ts).
  if (db.inTransaction) await inCallersSavepoint(db, () => write(db));
  else await db.transaction(write);
  return { created: rows.map((r) => r[def.key.name] as EntityKey) };
}
