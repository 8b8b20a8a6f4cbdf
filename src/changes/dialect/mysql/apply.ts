import { type ChangeContext, resolveContext } from '../../../context.js';
import { sqlStateOf } from '../../../db/errors.js';
import { tallyTable } from '../../../db/mysql/names.js';
import type { Executor } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import {
  type ApplyOptions,
  canonicalSelection,
  checkBatchSize,
  type EntityRuntime,
  interpret,
  type Selection,
} from '../../apply.js';
import { namedColumns } from '../../introspect.js';
import { type EntityKey, keyFromText } from '../../keys.js';
import type { ChangeResult } from '../../result.js';
import type { ChangeOp } from '../../sql.js';
import { checkedAction, checkedWhere } from '../../validate.js';
import { registerLogTx } from './log-tx.js';
import { inCallersSavepoint } from './savepoint.js';
import {
  fixAfterSql,
  insertTransitionLogSql,
  lockKeysSql,
  lockWhereSql,
  updateStateSql,
  utcText,
} from './sql.js';

/**
 * InnoDB rolled the whole transaction back (deadlock 40P01) or the statement waited too long (55P03):
 * in a transaction Tally opened, nothing of the attempt remains, so it runs again, up to this many times.
 */
const ATTEMPTS = 3;
const RETRY = new Set(['40P01', '55P03', '40001']);

/**
 * A transition of 1..N rows on MySQL/MariaDB: lock the rows in key order (`SELECT … FOR UPDATE`, which
 * reads the latest committed rows even at REPEATABLE READ), classify each key from what the lock read,
 * then one INSERT … SELECT of the log rows from the locked rows and one UPDATE. Three statements for any
 * N, all in one transaction: Tally's own (retried when InnoDB picks it as a deadlock victim), or the
 * caller's, inside Tally's savepoint (an error surfaces typed and leaves none of the change behind).
 */
export async function applyMysql(
  rt: EntityRuntime,
  db: Executor,
  selection: Selection,
  op: ChangeOp,
  context: ChangeContext | undefined,
  options: ApplyOptions = {},
): Promise<ChangeResult> {
  if (op.kind !== 'transition') {
    throw new TallyError('INVALID_CONFIG', 'entity.update is not available on the mysql dialect yet');
  }
  const ctx = resolveContext(context);
  const mode = options.mode ?? 'atomic';
  if (mode !== 'atomic' && mode !== 'partial') {
    throw new TallyError('INVALID_SELECTION', `mode must be 'atomic' or 'partial'`);
  }
  const action = checkedAction(options.action, op.kind);
  const { def, config } = rt;
  const shape = await rt.shape(db, 'where' in selection ? namedColumns(selection.where) : undefined);
  const byText = new Map<string, EntityKey>();
  let given: string[] | null = null;
  let where: [string, string[]][] = [];
  if ('keys' in selection) {
    given = canonicalSelection(selection.keys, shape, def, byText);
    checkBatchSize(given.length, config, def);
  } else {
    where = checkedWhere(def, shape, selection.where);
  }
  const log = tallyTable(config.schemaName, 'log');

  const run = async (tx: Executor): Promise<ChangeResult> => {
    let keys = given;
    if (keys === null) {
      keys = (await tx.query<{ k: string }>(lockWhereSql(def, where))).map((r) => String(r.k));
      checkBatchSize(keys.length, config, def);
      for (const k of keys) if (!byText.has(k)) byText.set(k, keyFromText(k, shape.keyType));
      if (keys.length === 0) return { changed: [], unchanged: [], rejected: [], applied: true };
    }
    const locked = await tx.query<{ k: string; s: string | null }>(lockKeysSql(def, keys));
    const stateOf = new Map(locked.map((r) => [String(r.k), r.s === null ? null : String(r.s)]));
    const others: [string, string, string | null][] = [];
    const moving: string[] = [];
    for (const k of keys) {
      const s = stateOf.get(k);
      if (s === undefined) others.push([k, 'not_found', null]);
      else if (s === op.to) others.push([k, 'unchanged', s]);
      else if (s !== null && op.from.includes(s)) moving.push(k);
      else others.push([k, 'illegal', s]);
    }
    const refused = others.some(([, st]) => st !== 'unchanged');
    let updated = 0;
    let logged = 0;
    if (moving.length > 0 && !(mode === 'atomic' && refused)) {
      const txid = await registerLogTx(tx, config.schemaName);
      const header = { entityType: def.name, action, ...ctx, at: utcText(config.clock()), txid };
      const [ins] = await tx.query<{ affectedRows: number }>(
        insertTransitionLogSql(log, def, shape, moving, op.to, header),
      );
      const [upd] = await tx.query<{ affectedRows: number }>(updateStateSql(def, moving, op.to));
      if (!shape.plainUpdates) await tx.query(fixAfterSql(log, def, shape, def.name, moving));
      logged = Number(ins?.affectedRows);
      updated = Number(upd?.affectedRows);
    }
    const toChange = mode === 'atomic' && refused ? 0 : moving.length;
    // interpret() throws the atomic refusal (nothing was written) and checks the counts.
    return interpret(
      { updated, logged, to_change: toChange, others },
      keys,
      byText,
      op,
      def,
      mode === 'atomic',
    );
  };

  if (db.inTransaction) return inCallersSavepoint(db, () => run(db));
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(run);
    } catch (err) {
      if (attempt >= ATTEMPTS || !RETRY.has(sqlStateOf(err) ?? '')) throw err;
    }
  }
}
