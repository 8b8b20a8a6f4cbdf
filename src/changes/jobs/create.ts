import { resolveContext } from '../../context.js';
import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import type { EntityRuntime } from '../apply.js';
import type { EntityDefinition } from '../definition.js';
import { namedColumns, type TableShape } from '../introspect.js';
import { canonicalKeys } from '../keys.js';
import { checkedWhere } from '../validate.js';
import { actionOf, changeOf, fingerprintOf, type StoredOp } from './op.js';
import {
  insertItemsFromKeysSql,
  insertItemsFromWhereSql,
  insertJobSql,
  type JobRow,
  jobByKeySql,
} from './sql.js';
import { readJob } from './status.js';
import type { JobInput } from './types.js';

type Items = { keys: string[] } | { where: [string, string[]][] };

/**
 * Creates a job record and snapshots its items set-based (one statement for any number of items;
 * a filter is resolved to keys now, so later matches do not join the job). With a `key`, an existing
 * job for the same operation is returned instead, and a different operation is refused.
 */
export async function createJob(
  rt: EntityRuntime,
  db: Executor,
  input: JobInput,
): Promise<{ row: JobRow; created: boolean }> {
  if (!input || typeof input !== 'object')
    throw new TallyError('INVALID_SELECTION', 'job needs an input object');
  const { def, config } = rt;
  const key = input.key ?? null;
  if (key !== null && (typeof key !== 'string' || key.length < 1 || key.length > 200)) {
    throw new TallyError('INVALID_SELECTION', 'job key must be a string of 1 to 200 characters');
  }
  // A chunk is one applyChange, so it can never exceed maxBatch, whatever the configured default says.
  const chunkSize = input.chunkSize ?? Math.min(config.chunkSize, config.maxBatch);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > config.maxBatch) {
    throw new TallyError(
      'INVALID_SELECTION',
      `chunkSize must be an integer from 1 to maxBatch (${config.maxBatch})`,
    );
  }
  const context = resolveContext(input);
  const shape = await rt.shape(db, namedColumns(input.set, input.where));
  const change = changeOf(def, shape, input);
  const action = actionOf(change, input.action);
  const items = itemsOf(def, shape, input);
  const fingerprint = fingerprintOf(
    def.name,
    change,
    action,
    'keys' in items ? items : { where: Object.fromEntries(items.where) },
  );

  const create = async (tx: Executor): Promise<{ row: JobRow; created: boolean }> => {
    const id = config.ids();
    const op: StoredOp = {
      v: 1,
      change,
      action,
      context: { ...context, requestId: context.requestId ?? `job:${id}` },
    };
    const at = config.clock();
    const inserted = await tx.query(
      insertJobSql(config.s, { id, key, entity: def.name, op, fingerprint, chunkSize, at }),
    );
    if (inserted.length === 0) {
      const [existing] = await tx.query<JobRow & Record<string, unknown>>(jobByKeySql(config.s, key!));
      if (!existing) throw new TallyError('DB_ERROR', 'job key conflicted but no job holds it');
      if (existing.fingerprint !== fingerprint || existing.entity_type !== def.name) {
        throw new TallyError(
          'JOB_KEY_REUSED',
          `job key is already used by job ${existing.id} for a different operation; use a new key`,
          { details: { jobId: existing.id } },
        );
      }
      return { row: existing, created: false };
    }
    await tx.query(
      'keys' in items
        ? insertItemsFromKeysSql(config.s, id, items.keys)
        : insertItemsFromWhereSql(config.s, def, id, items.where),
    );
    return { row: await readJob(config, tx, id), created: true };
  };
  return db.inTransaction ? create(db) : db.transaction(create);
}

function itemsOf(def: EntityDefinition, shape: TableShape, input: JobInput): Items {
  if ((input.keys === undefined) === (input.where === undefined)) {
    throw new TallyError('INVALID_SELECTION', 'a job needs exactly one of keys or where');
  }
  if (input.keys !== undefined) {
    if (!Array.isArray(input.keys))
      throw new TallyError('INVALID_SELECTION', `entity ${def.name}: keys must be an array`);
    if (input.keys.length === 0) {
      throw new TallyError('EMPTY_KEYS', `entity ${def.name}: the key list is empty; nothing to do`);
    }
    // One item per row: duplicates collapse to the first occurrence, order kept.
    return { keys: [...new Set(canonicalKeys(input.keys, shape.keyType, def.name))] };
  }
  return { where: checkedWhere(def, shape, input.where) };
}
