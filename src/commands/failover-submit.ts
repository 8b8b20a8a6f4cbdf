import { TallyError } from '../errors.js';
import { checkIdempotencyKey, checkPrincipal } from './canonical.js';
import type { CommandRuntime } from './context.js';
import { healthOf, type ResolvedFailover } from './failover.js';
import { findIntake, handOverKey, intakeResult, normalizeIntake } from './intake.js';
import { insertIntakeSql } from './intake-sql.js';
import { normalizeRow } from './machine.js';
import { type CommandResult, toResult } from './result.js';
import { commandByKeySql, recordedRequest } from './sql.js';
import { type Prepared, submitPrimary } from './submit-primary.js';
import { isUnreachable } from './unreachable.js';

/** The primary could not be asked: the command's outcome is unknown, retry later. */
export function outcomeUnknown(
  type: string,
  why: string,
  retryAfterMs: number,
  commandId?: string,
): TallyError {
  return new TallyError(
    'COMMAND_OUTCOME_UNKNOWN',
    `command ${type}: ${why}; its outcome is unknown until the primary can be checked: retry later with the same key`,
    { details: { retryAfterMs, ...(commandId ? { commandId } : {}) } },
  );
}

/**
 * Submit with a failover store. The primary is tried first (unless it was seen unreachable less than
 * `retryPrimaryMs` ago); before it answers, an open intake row with this key is handed over to it, so a
 * key lives in one place. Only when the primary is unreachable — connection refused, reset, timed out —
 * does the secondary take the command, and then only a key minted after the outage began (it cannot be
 * on the primary); it is recorded and nothing of it runs until the primary is back.
 */
export async function submitWithFailover(
  rt: CommandRuntime,
  f: ResolvedFailover,
  p: Prepared,
): Promise<CommandResult> {
  const { config, spec } = rt;
  const health = healthOf(config.db);
  const ref = { type: spec.name, principal: p.principal, key: p.key };
  if (!health.skip(config.clock())) {
    let recorded = false;
    let recordedId: string | undefined;
    try {
      try {
        // One plain read on the secondary; the locked hand-over only when an open record is there.
        const open = await findIntake(f.db, config.s, ref);
        if (open && open.handed_over_at === null)
          await handOverKey(f, config.db, config.s, ref, config.clock());
      } catch (err) {
        // The secondary may be the one away: the primary still answers; a later hand-over merges.
        if (!isUnreachable(err)) throw err;
      }
      // Recorded first, on its own: whether the key lives on the primary must be known before the step
      // runs, or a primary lost mid-step would leave the outcome unknowable (decision 0125).
      const r = await submitPrimary(
        rt,
        p,
        (id) => {
          recorded = true;
          recordedId = id;
        },
        false,
      );
      health.up();
      return r;
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      health.down(config.clock(), f.retryPrimaryMs);
      if (recorded) {
        throw outcomeUnknown(
          spec.name,
          'the primary became unreachable while the command ran',
          f.retryPrimaryMs,
          recordedId,
        );
      }
    }
  }
  return submitDuringOutage(rt, f, p, health.downSince ?? config.clock());
}

async function submitDuringOutage(
  rt: CommandRuntime,
  f: ResolvedFailover,
  p: Prepared,
  downSince: Date,
): Promise<CommandResult> {
  const { config, spec } = rt;
  const ref = { type: spec.name, principal: p.principal, key: p.key };
  try {
    const existing = await findIntake(f.db, config.s, ref);
    if (existing) return answer(rt, f, existing, p);
    let minted: Date | null = null;
    try {
      minted = f.keyTime(p.key);
    } catch {
      minted = null;
    }
    if (!(minted instanceof Date) || !(minted.getTime() > downSince.getTime())) {
      throw outcomeUnknown(
        spec.name,
        'the primary is unreachable and this key may already be recorded there',
        f.retryPrimaryMs,
      );
    }
    const now = config.clock();
    const [ins] = await f.db.query(
      insertIntakeSql(config.s, recordedRequest(spec.name, p, config.ids(), now)),
    );
    if (ins) return intakeResult(normalizeIntake(ins), false);
    const raced = await findIntake(f.db, config.s, ref);
    return answer(rt, f, raced!, p);
  } catch (err) {
    if (err instanceof TallyError && err.code !== 'DB_ERROR') throw err;
    if (!isUnreachable(err)) throw err;
    throw new TallyError(
      'STORES_UNAVAILABLE',
      `command ${spec.name}: neither the primary nor the secondary store is reachable; nothing was recorded, retry later`,
      { cause: err },
    );
  }
}

function answer(
  rt: CommandRuntime,
  f: ResolvedFailover,
  row: ReturnType<typeof normalizeIntake>,
  p: Prepared,
): CommandResult {
  const name = rt.spec.name;
  if (row.fingerprint !== p.fingerprint) {
    throw new TallyError(
      'IDEMPOTENCY_KEY_REUSED',
      `command ${name}: this idempotency key was first used with different key parameters; use a new key for a new request`,
      { details: { commandId: row.id } },
    );
  }
  if (row.handed_over_at !== null) {
    // It lives on the primary now, which cannot be asked.
    throw outcomeUnknown(
      name,
      'the primary is unreachable and holds this command',
      f.retryPrimaryMs,
      row.primary_id ?? row.id,
    );
  }
  return intakeResult(row, true);
}

/**
 * `command.get` with a failover store: the primary first; when it has no such command, an intake row
 * not yet handed over; when it is unreachable, the intake row, else COMMAND_OUTCOME_UNKNOWN.
 */
export async function getWithFailover(
  rt: CommandRuntime,
  f: ResolvedFailover,
  ref: { key: string; principal: string },
): Promise<CommandResult | null> {
  const { config, spec } = rt;
  const key = checkIdempotencyKey(ref?.key);
  const principal = checkPrincipal(ref?.principal);
  const health = healthOf(config.db);
  const byKey = { type: spec.name, principal, key };
  let primaryDown = health.skip(config.clock());
  if (!primaryDown) {
    try {
      const [row] = await config.db.query(commandByKeySql(config.s, spec.name, principal, key));
      health.up();
      if (row) return toResult(normalizeRow(row), true);
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      health.down(config.clock(), f.retryPrimaryMs);
      primaryDown = true;
    }
  }
  let intake: Awaited<ReturnType<typeof findIntake>> = null;
  try {
    intake = await findIntake(f.db, config.s, byKey);
  } catch (err) {
    if (!isUnreachable(err)) throw err;
    if (primaryDown) {
      throw new TallyError('STORES_UNAVAILABLE', `command ${spec.name}: neither store is reachable`, {
        cause: err,
      });
    }
  }
  if (intake && intake.handed_over_at === null) return intakeResult(intake, true);
  if (primaryDown) throw outcomeUnknown(spec.name, 'the primary is unreachable', f.retryPrimaryMs);
  return null;
}
