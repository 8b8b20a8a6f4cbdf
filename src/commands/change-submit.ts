import { sqlStateOf } from '../db/errors.js';
import type { CompiledChange } from './change.js';
import { changeValues } from './change.js';
import { changeCommandSql } from './change-sql.js';
import type { CommandRuntime } from './context.js';
import type { CommandFailure } from './definition.js';
import { ACTIVE, normalizeRow } from './machine.js';
import { type CommandResult, toResult } from './result.js';
import { recordedRequest } from './sql.js';
import type { Prepared } from './submit.js';

/**
 * Submits a change command as one statement (decision 0025). Everything unusual goes to the general
 * path (`fallback`: record, then drive the same change as a step under the row lock), which answers a
 * known key exactly as for any command:
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
  const values = changeValues(spec.name, change, plan, p.input);
  const at = config.clock();
  const id = config.ids();
  let rows: ChangeRow[];
  try {
    rows = await config.db.query<ChangeRow>(
      changeCommandSql(config.s, change, plan, recordedRequest(spec.name, p, id, at), values),
    );
  } catch (err) {
    if (sqlStateOf(err) === '23505') return fallback();
    throw err;
  }
  const r = rows[0]!;
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
  st: 'exists' | 'race' | 'changed' | 'unchanged' | 'guard' | 'not_found';
  result: unknown;
  error: unknown;
  prior: unknown;
}

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
