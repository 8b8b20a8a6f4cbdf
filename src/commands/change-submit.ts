import { sqlStateOf } from '../db/errors.js';
import { TallyError } from '../errors.js';
import type { CompiledChange } from './change.js';
import { changeValues } from './change.js';
import { ChangeBatcher } from './change-batch.js';
import { type ChangeItem, changeCommandSql } from './change-sql.js';
import type { CommandRuntime } from './context.js';
import type { CommandFailure } from './definition.js';
import { ACTIVE, normalizeRow } from './machine.js';
import { type CommandResult, toResult } from './result.js';
import { recordedRequest } from './sql.js';
import type { Prepared } from './submit-primary.js';

/**
 * Submits a change command as (part of) one statement (decisions 0025, 0026). Everything unusual goes
 * to the general path (`fallback`: record, then drive the same change as a step under the row lock),
 * which answers a known key exactly as for any command:
 *
 * - a concurrent first submit of the same key won the unique index (23505: this statement wrote nothing);
 * - the row changed after this statement's snapshot (`race`: nothing written);
 * - the key exists but its command is unfinished, or was recorded with other key parameters.
 */
export async function submitChange(
  rt: CommandRuntime,
  change: CompiledChange,
  p: Prepared,
  fallback: () => Promise<CommandResult>,
): Promise<CommandResult> {
  const { config, spec } = rt;
  const plan = await change.plan(config.db);
  const v = changeValues(spec.name, change, plan, p.input);
  const at = config.clock();
  const id = config.ids();
  const item: ChangeItem = { r: recordedRequest(spec.name, p, id, at), v };
  let r: ChangeRow;
  try {
    r = await batcherOf(rt, change).run(item, [`row ${v.key}`, `key ${p.principal}\u0000${p.key}`]);
  } catch (err) {
    // A concurrent first submit of the key won the unique index, or the statement was a deadlock's
    // victim (another transaction locking rows in another order): nothing was written; the general
    // path locks the row first and answers for the key.
    if (FALL_BACK_ON.has(sqlStateOf(err) ?? '')) return fallback();
    throw err;
  }
  if (r.st === 'race') return fallback();
  if (r.st === 'exists') {
    const row = normalizeRow(json(r.prior) as Record<string, unknown>);
    if (row.fingerprint === p.fingerprint && !ACTIVE.has(row.status)) return toResult(row, true);
    return fallback();
  }
  const ok = r.st === 'changed' || r.st === 'unchanged';
  // The row as recorded: what was sent, finished now with this outcome (as toResult would read it back).
  return {
    id,
    type: spec.name,
    key: p.key,
    principal: p.principal,
    status: ok ? 'succeeded' : 'failed',
    result: ok ? json(r.result) : null,
    error: ok ? null : (json(r.error) as CommandFailure),
    replayed: false,
    attempts: 0,
    createdAt: at,
    finishedAt: at,
    nextAttemptAt: null,
    pausedOn: null,
  };
}

interface ChangeRow extends Record<string, unknown> {
  n: number;
  st: 'exists' | 'race' | 'changed' | 'unchanged' | 'guard' | 'not_found';
  result: unknown;
  error: unknown;
  prior: unknown;
}

const FALL_BACK_ON = new Set(['23505', '40P01', '40001']);

/**
 * SQLSTATEs that are not any one item's doing, so sending a failed statement's items again alone would
 * only fail them again: the connection (08), resources (53), the server going away (57P01-57P03), the
 * system (58) and internal errors (XX). A driver error without a SQLSTATE is not retried either.
 */
const NOT_ONE_ITEMS = /^(08|53|57P0|58|XX)/;

const batchers = new WeakMap<CommandRuntime, ChangeBatcher<ChangeItem, ChangeRow>>();

/** The command's batcher: its statements share the runtime's database (one per command type). */
function batcherOf(rt: CommandRuntime, change: CompiledChange): ChangeBatcher<ChangeItem, ChangeRow> {
  let b = batchers.get(rt);
  if (!b) {
    const { config } = rt;
    b = new ChangeBatcher<ChangeItem, ChangeRow>(change.batch, {
      async send(items) {
        const plan = await change.plan(config.db);
        // Every statement locks its rows (and inserts its keys) in one order, the same in every process
        // and for every command type: two statements over the same rows then wait for each other
        // instead of deadlocking.
        const ordered = [...items.keys()].sort((a, b) => compareItems(items[a]!, items[b]!));
        const rows = await config.db.query<ChangeRow>(
          changeCommandSql(
            config.s,
            change,
            plan,
            ordered.map((i) => items[i]!),
          ),
        );
        const answers: ChangeRow[] = [];
        for (const row of rows) {
          const i = ordered[row.n];
          if (i !== undefined) answers[i] = row;
        }
        return items.map((_, i) => {
          const row = answers[i];
          if (!row)
            throw new TallyError('DB_ERROR', `change command statement answered no row for item ${i}`);
          return row;
        });
      },
      mayBeOneItems(err) {
        const state = sqlStateOf(err);
        return state !== undefined && !NOT_ONE_ITEMS.test(state);
      },
    });
    batchers.set(rt, b);
  }
  return b;
}

/** Entity key, then principal, then idempotency key: the order a statement's items lock and insert in. */
function compareItems(a: ChangeItem, b: ChangeItem): number {
  return cmp(a.v.key, b.v.key) || cmp(a.r.principal, b.r.principal) || cmp(a.r.key, b.r.key);
}

const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
