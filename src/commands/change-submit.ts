import { sqlStateOf } from '../db/errors.js';
import type { CompiledChange } from './change.js';
import { changeValues } from './change.js';
import { changeCommandSql } from './change-sql.js';
import type { CommandRuntime } from './context.js';
import { ACTIVE, normalizeRow } from './machine.js';
import { type CommandResult, toResult } from './result.js';
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
  let rows: Record<string, unknown>[];
  try {
    rows = await config.db.query(
      changeCommandSql(
        config.s,
        change,
        plan,
        {
          id: config.ids(),
          type: spec.name,
          principal: p.principal,
          key: p.key,
          fingerprint: p.fingerprint,
          params: p.canonical,
          input: JSON.stringify(p.input),
          at: config.clock(),
        },
        values,
      ),
    );
  } catch (err) {
    if (sqlStateOf(err) === '23505') return fallback();
    throw err;
  }
  const { st, ...raw } = rows[0] as { st: string } & Record<string, unknown>;
  if (st === 'race') return fallback();
  const row = normalizeRow(raw);
  if (st !== 'exists') return toResult(row, false);
  if (row.fingerprint === p.fingerprint && !ACTIVE.has(row.status)) return toResult(row, true);
  return fallback();
}
