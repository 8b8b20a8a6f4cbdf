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
import type { Prepared } from './submit.js';

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
    if (sqlStateOf(err) === '23505') return fallback();
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
  };
}

interface ChangeRow extends Record<string, unknown> {
  n: number;
  st: 'exists' | 'race' | 'changed' | 'unchanged' | 'guard' | 'not_found';
  result: unknown;
  error: unknown;
  prior: unknown;
}

const batchers = new WeakMap<CommandRuntime, ChangeBatcher<ChangeItem, ChangeRow>>();

/** The command's batcher: its statements share the runtime's database (one per command type). */
function batcherOf(rt: CommandRuntime, change: CompiledChange): ChangeBatcher<ChangeItem, ChangeRow> {
  let b = batchers.get(rt);
  if (!b) {
    const { config } = rt;
    b = new ChangeBatcher<ChangeItem, ChangeRow>(change.batch, async (items) => {
      const plan = await change.plan(config.db);
      const rows = await config.db.query<ChangeRow>(changeCommandSql(config.s, change, plan, items));
      const byItem: ChangeRow[] = [];
      for (const row of rows) byItem[row.n] = row;
      return items.map((_, n) => {
        const row = byItem[n];
        if (!row) throw new TallyError('DB_ERROR', `change command statement answered no row for item ${n}`);
        return row;
      });
    });
    batchers.set(rt, b);
  }
  return b;
}

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
