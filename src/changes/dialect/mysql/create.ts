import { type ChangeContext, resolveContext } from '../../../context.js';
import { tallyTable } from '../../../db/mysql/names.js';
import type { Executor } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import type { EntityRuntime } from '../../apply.js';
import { namedColumns } from '../../introspect.js';
import { canonicalKeys, type EntityKey } from '../../keys.js';
import { columnNotFound } from '../../validate.js';
import { insertCreateLogSql, insertRowsSql, utcText } from './sql.js';

/**
 * Inserts new rows at version 1 with a `create` log entry each: one multi-row INSERT, then one
 * INSERT … SELECT of the log rows from the rows as stored (defaults filled in), in one transaction.
 * The checks are PostgreSQL's (create.ts), so both dialects refuse the same input the same way.
 */
export async function createMysql(
  rt: EntityRuntime,
  db: Executor,
  rows: readonly Record<string, unknown>[],
  context: ChangeContext | undefined,
): Promise<{ created: EntityKey[] }> {
  const ctx = resolveContext(context);
  const { def, config } = rt;
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new TallyError('EMPTY_KEYS', `entity ${def.name}: create needs at least one row`);
  }
  if (rows.length > config.maxBatch) {
    throw new TallyError(
      'BATCH_TOO_LARGE',
      `entity ${def.name}: ${rows.length} rows exceed maxBatch (${config.maxBatch})`,
    );
  }
  const shape = await rt.shape(db, namedColumns(rows));
  const columns = new Set<string>();
  for (const row of rows) {
    if (!row || typeof row !== 'object')
      throw new TallyError('INVALID_UPDATE', `entity ${def.name}: rows must be objects`);
    for (const c of Object.keys(row)) {
      if (!shape.columns.has(c)) throw columnNotFound(def, c, 'create');
      columns.add(c);
    }
    const st = row[def.state.name];
    if (typeof st !== 'string' || !def.states.has(st)) {
      throw new TallyError(
        'UNKNOWN_STATE',
        `entity ${def.name}: every row needs a declared ${def.state.name}`,
      );
    }
  }
  if (!columns.has(def.key.name)) {
    throw new TallyError('INVALID_KEY', `entity ${def.name}: every row needs its key ${def.key.name}`);
  }
  const keys = canonicalKeys(
    rows.map((r) => r[def.key.name]),
    shape.keyType,
    def.name,
  );
  columns.delete(def.version.name);
  const log = tallyTable(config.schemaName, 'log');
  const header = { entityType: def.name, ...ctx, at: utcText(config.clock()) };
  const write = async (tx: Executor) => {
    const [ins] = await tx.query<{ affectedRows: number }>(insertRowsSql(def, [...columns], rows));
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
  if (db.inTransaction) await write(db);
  else await db.transaction(write);
  return { created: rows.map((r) => r[def.key.name] as EntityKey) };
}
