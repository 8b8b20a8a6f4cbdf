import { createHash } from 'node:crypto';
import type { TallyConfig } from '../config.js';
import { type ChangeContext, resolveContext } from '../context.js';
import { sqlStateOf } from '../db/errors.js';
import type { Executor, SqlQuery } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { EntityDefinition } from './definition.js';
import { namedColumns, type TableShape } from './introspect.js';
import { canonicalKeys, type EntityKey, keyFromText } from './keys.js';
import { oneKeyUpdateSql } from './one-key-update-sql.js';
import type { ChangeResult, Rejection } from './result.js';
import {
  type ChangeOp,
  type ChangeParams,
  changeSql,
  fastTransitionSql,
  lockRowsSql,
  lockWhereSql,
  optimisticTransitionSql,
} from './sql.js';
import { checkedAction, checkedWhere } from './validate.js';

/** Which rows: explicit keys, or an equality filter (`{ state: 'active', region: ['eu', 'us'] }`). */
export type Selection = { keys: readonly EntityKey[] } | { where: Readonly<Record<string, unknown>> };

export interface ApplyOptions {
  /** `atomic` (default): any rejection and nothing changes. `partial`: apply the valid ones. */
  mode?: 'atomic' | 'partial';
  /** Log action name. Defaults to `transition` / `update`. */
  action?: string;
}

export interface EntityRuntime {
  readonly config: TallyConfig;
  readonly def: EntityDefinition;
  /**
   * The table's shape, learned on first use. Given the column names the caller is about to use, a cached
   * shape that lacks one of them is read again, once (a column added since), before anyone refuses it.
   */
  shape(db: Executor, columns?: readonly string[]): Promise<TableShape>;
}

/**
 * The one path every change takes, for one key or a hundred thousand: lock in key order, then one
 * statement that classifies, updates and logs. Two statements whatever N is.
 */
export async function applyChange(
  rt: EntityRuntime,
  db: Executor,
  selection: Selection,
  op: ChangeOp,
  context: ChangeContext | undefined,
  options: ApplyOptions = {},
): Promise<ChangeResult> {
  const ctx = resolveContext(context);
  const mode = options.mode ?? 'atomic';
  if (mode !== 'atomic' && mode !== 'partial') {
    throw new TallyError('INVALID_SELECTION', `mode must be 'atomic' or 'partial'`);
  }
  const action = checkedAction(options.action, op.kind);
  const { def, config } = rt;
  const shape = await rt.shape(db, 'where' in selection ? namedColumns(selection.where) : undefined);
  const byText = new Map<string, EntityKey>();
  let keys: string[] | null = null;
  let where: [string, string[]][] = [];
  if ('keys' in selection) {
    keys = canonicalSelection(selection.keys, shape, def, byText);
    checkBatchSize(keys.length, config, def);
  } else {
    where = checkedWhere(def, shape, selection.where);
  }

  const run = async (tx: Executor): Promise<ChangeResult> => {
    if (keys === null) {
      const [row] = await tx.query<{ keys: string[] }>(lockWhereSql(def, where));
      keys = row?.keys ?? [];
      checkBatchSize(keys.length, config, def);
      for (const k of keys) byText.set(k, keyFromText(k, shape.keyType));
      if (keys.length === 0) return { changed: [], unchanged: [], rejected: [], applied: true };
    }
    const [lock] = await tx.query<{ found: number; already: number; movable: number; jit: string }>(
      prepared(lockRowsSql(def, shape, keys, op), keys.length),
    );
    const params = { keys, entityType: def.name, action, ...ctx, at: config.clock(), jit: lock!.jit };
    const fast =
      op.kind === 'transition' &&
      op.from.length === 1 &&
      shape.plainUpdates &&
      lock!.found === keys.length &&
      lock!.already + lock!.movable === keys.length;
    const [res] = await tx.query<{ updated: number; logged: number; to_change: number; others: unknown }>(
      prepared(
        fast
          ? fastTransitionSql(
              config.s,
              def,
              shape,
              { to: op.to, from: op.from[0]! },
              params,
              lock!.already > 0,
            )
          : changeSql(config.s, def, shape, op, params, mode === 'atomic'),
        keys.length,
      ),
    );
    await mutantAfterWrite(config, tx, def);
    if (fast && res!.updated !== lock!.movable) {
      throw new TallyError(
        'DB_ERROR',
        `${def.name}: ${lock!.movable} rows were locked to change but ${res!.updated} changed`,
      );
    }
    return interpret(res!, keys, byText, op, def, mode === 'atomic');
  };

  // One key: one statement, in a caller's transaction or alone as an autocommit (decisions 0066, 0124).
  // A row that moved while the statement waited for it is written by nobody; the locks decide then.
  if (keys !== null && keys.length === 1) {
    const p = { keys, entityType: def.name, action, ...ctx, at: config.clock() };
    const single = oneKeySql(config.s, def, shape, op, p);
    if (single) {
      const [res] = await db.query<OnePassRow>(prepared(single, 1));
      if (!raced(res!)) {
        await mutantAfterWrite(config, db, def);
        return interpret(res!, keys, byText, op, def, mode === 'atomic');
      }
    }
  }
  // A batch runs as one statement instead of two when Tally owns the transaction (decision 0005): at
  // REPEATABLE READ a concurrent change to one of the rows fails the statement, and then the change runs
  // again through the locks.
  if (
    keys !== null &&
    keys.length > 1 &&
    !db.inTransaction &&
    op.kind === 'transition' &&
    op.from.length === 1 &&
    shape.plainUpdates
  ) {
    const p = { keys, entityType: def.name, action, ...ctx };
    const statement = () =>
      prepared(
        optimisticTransitionSql(
          config.s,
          def,
          shape,
          { to: op.to, from: op.from[0]! },
          { ...p, at: config.clock() },
        ),
        p.keys.length,
      );
    const optimistic = async (tx: Executor): Promise<ChangeResult> => {
      await tx.query(OPTIMISTIC_SETTINGS);
      const [res] = await tx.query<OnePassRow>(statement());
      if (raced(res!)) throw new TallyError('DB_ERROR', 'raced at REPEATABLE READ', { details: RACED });
      return interpret(res!, p.keys, byText, op, def, mode === 'atomic');
    };
    try {
      return await db.transaction(optimistic, { isolation: 'repeatable read' });
    } catch (err) {
      const fallBack =
        CONFLICTS.has(sqlStateOf(err) ?? '') || (err instanceof TallyError && err.details === RACED);
      if (!fallBack) throw err;
    }
  }
  return db.inTransaction ? run(db) : db.transaction(run);
}

/**
 * The single-key statement for `op`, or null when the key must go through the locks: a transition with
 * one source state on a table whose UPDATEs change only what they set (its before image is derived,
 * decision 0007), or any `update` (its before image is the snapshot's row, decision 0124).
 */
function oneKeySql(
  s: string,
  def: EntityDefinition,
  shape: TableShape,
  op: ChangeOp,
  p: Omit<ChangeParams, 'jit'>,
): SqlQuery | null {
  if (op.kind === 'update') return oneKeyUpdateSql(s, def, shape, op.set, p);
  if (op.from.length === 1 && shape.plainUpdates) {
    return optimisticTransitionSql(s, def, shape, { to: op.to, from: op.from[0]! }, p);
  }
  return null;
}

/** The simulator's deliberate bug (decision 0152): the state stays, its log rows go. */
async function mutantAfterWrite(config: TallyConfig, db: Executor, def: EntityDefinition): Promise<void> {
  if (config.mutant !== 'state-without-log') return;
  await db.query({
    text: `DELETE FROM ${config.s}.log WHERE txid = pg_current_xact_id() AND entity_type = $1`,
    values: [def.name],
  });
}

/**
 * For the one-statement attempt, in Tally's own transaction: no JIT (see RESTORE_JIT in sql.ts), and a
 * short lock_timeout. Waiting for a row another transaction holds cannot succeed at REPEATABLE READ
 * anyway (if it changes the row, this statement fails), and an attempt that never waits long can
 * never be part of a deadlock with a change that takes its locks in key order: it gives up first.
 */
const OPTIMISTIC_SETTINGS: SqlQuery = {
  text: `SELECT set_config('jit', 'off', true), set_config('lock_timeout', '10ms', true)`,
};

/**
 * Another transaction changed (40001), holds (55P03) or deadlocked on (40P01) a row the one-statement
 * attempt meant to change: nothing of it remains (its transaction rolled back), the locks decide.
 */
const CONFLICTS = new Set(['40001', '40P01', '55P03']);

type OnePassRow = { updated: number; logged: number; to_change: number; others: unknown };

/** Marks the (never expected) race at REPEATABLE READ, so the attempt rolls back and the locks decide. */
const RACED = Object.freeze({ raced: true });

/** Whether a key was skipped because its row moved after the statement's snapshot (READ COMMITTED only). */
function raced(res: OnePassRow): boolean {
  const others = (typeof res.others === 'string' ? JSON.parse(res.others) : res.others) as unknown[][];
  return others.some((o) => o[1] === 'race');
}

/**
 * Single-key changes are the hot path of services (one request, one row): their two statements are
 * prepared once per connection, which saves the planning that otherwise costs as much as running them.
 * Batches stay unprepared so a plan made for one key is never reused for a hundred thousand.
 */
function prepared(q: SqlQuery, n: number): SqlQuery {
  if (n !== 1) return q;
  let name = preparedNames.get(q.text);
  if (name === undefined) {
    name = `tally_${createHash('sha1').update(q.text).digest('hex').slice(0, 20)}`;
    // Bounded: one text per entity, statement kind and set of columns in practice; a runaway caller
    // (a new column list every call) costs a hash each, never memory.
    if (preparedNames.size < 4096) preparedNames.set(q.text, name);
  }
  return { ...q, name };
}

/** Statement names by text: hashing a long statement on every single-key change showed in profiles. */
const preparedNames = new Map<string, string>();

export function canonicalSelection(
  raw: readonly EntityKey[],
  shape: TableShape,
  def: EntityDefinition,
  byText: Map<string, EntityKey>,
): string[] {
  if (!Array.isArray(raw))
    throw new TallyError('INVALID_SELECTION', `entity ${def.name}: keys must be an array`);
  if (raw.length === 0) {
    throw new TallyError('EMPTY_KEYS', `entity ${def.name}: the key list is empty; nothing to change`);
  }
  const texts = canonicalKeys(raw, shape.keyType, def.name);
  // Duplicates are one row: the first spelling of a key names it in the result.
  for (let i = 0; i < texts.length; i++) if (!byText.has(texts[i]!)) byText.set(texts[i]!, raw[i]!);
  return [...byText.keys()];
}

export function checkBatchSize(n: number, config: TallyConfig, def: EntityDefinition): void {
  if (n > config.maxBatch) {
    throw new TallyError(
      'BATCH_TOO_LARGE',
      `entity ${def.name}: ${n} rows exceed maxBatch (${config.maxBatch}) for one statement; run it as a job`,
      { details: { rows: n, maxBatch: config.maxBatch } },
    );
  }
}

/** Why a key was refused, without the key. */
function reasonText(r: Rejection, op: ChangeOp): string {
  if (r.reason === 'not_found') return 'the row does not exist';
  return `the row cannot go from ${r.from} to ${op.kind === 'transition' ? op.to : '?'}`;
}

export function interpret(
  res: { updated: number; logged: number; to_change: number; others: unknown },
  keys: readonly string[],
  byText: ReadonlyMap<string, EntityKey>,
  op: ChangeOp,
  def: EntityDefinition,
  atomic: boolean,
): ChangeResult {
  const others = (typeof res.others === 'string' ? JSON.parse(res.others) : res.others) as [
    string,
    string,
    string | null,
  ][];
  const unchanged: EntityKey[] = [];
  const rejected: Rejection[] = [];
  const notChanged = new Set<string>();
  for (const [k, st, from] of others) {
    notChanged.add(k);
    const key = byText.get(k) ?? k;
    if (st === 'unchanged') unchanged.push(key);
    else if (st === 'not_found')
      rejected.push({ key, reason: 'not_found', message: `${def.name} ${k} does not exist` });
    else {
      const to = op.kind === 'transition' ? op.to : '?';
      rejected.push({
        key,
        reason: 'illegal_transition',
        from: from ?? undefined,
        message: `${def.name} ${k} cannot go from ${from} to ${to}`,
      } as Rejection);
    }
  }
  if (atomic && rejected.length > 0) {
    const first = rejected[0]!;
    // A batch of one is still a batch; only the error code names the single reason.
    const code =
      keys.length > 1 ? 'BATCH_REJECTED' : first.reason === 'not_found' ? 'NOT_FOUND' : 'ILLEGAL_TRANSITION';
    // Key values stay out of the message (decision 0009): keys are often personal data, and a message
    // ends up in every log line that prints the error. details.rejected names them, for the handler.
    throw new TallyError(
      code,
      keys.length > 1
        ? `${def.name}: ${rejected.length} of ${keys.length} keys were rejected, so nothing changed (first: ${reasonText(first, op)}; details.rejected names the keys); pass mode 'partial' to apply the valid ones`
        : `${def.name}: ${reasonText(first, op)} (details.rejected names the key)`,
      {
        details: {
          rejected: rejected.slice(0, 100),
          rejectedCount: rejected.length,
          unchanged: unchanged.length,
        },
      },
    );
  }
  if (res.updated !== res.to_change || res.logged !== res.updated) {
    // The rows were locked, so this means someone bypassed the lock (e.g. a non-transaction `tx`).
    throw new TallyError(
      'DB_ERROR',
      `${def.name}: expected ${res.to_change} changes, updated ${res.updated}, logged ${res.logged}; pass a transaction as tx`,
    );
  }
  const changed: EntityKey[] = [];
  for (const k of keys) if (!notChanged.has(k)) changed.push(byText.get(k) ?? k);
  return { changed, unchanged, rejected, applied: true };
}
