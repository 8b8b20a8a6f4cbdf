import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { EntityRuntime } from './apply.js';
import { namedColumns, type TableShape } from './introspect.js';
import { canonicalKeys } from './keys.js';
import { columnNotFound } from './validate.js';

/**
 * What `create` writes, once its rows passed the checks: the columns named (without the version) and the
 * keys as the log stores them (canonical text).
 */
export interface CheckedCreate {
  shape: TableShape;
  columns: string[];
  keys: string[];
}

/**
 * The checks every dialect's `create` runs before it writes, so each refuses the same input the same way:
 * at least one row and at most maxBatch, objects naming only the table's columns, a declared state and the
 * key in every row, keys of the key column's type.
 */
export async function checkCreateRows(
  rt: EntityRuntime,
  db: Executor,
  rows: readonly Record<string, unknown>[],
): Promise<CheckedCreate> {
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
  return { shape, columns: [...columns], keys };
}
