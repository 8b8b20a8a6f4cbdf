import type { Executor } from '../db/types.js';
import type { ResolvedFailover } from './failover.js';
import {
  adoptIntakeSql,
  claimIntakeSql,
  type IntakeRow,
  intakeByKeySql,
  markHandedOverSql,
} from './intake-sql.js';
import type { CommandResult } from './result.js';
import { commandByKeySql } from './sql.js';

export function normalizeIntake(r: Record<string, unknown>): IntakeRow {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  const date = (v: unknown) =>
    v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v));
  return {
    ...(r as unknown as IntakeRow),
    params: json(r.params),
    input: json(r.input),
    received_at: date(r.received_at)!,
    handed_over_at: date(r.handed_over_at),
  };
}

/** How a recorded-but-not-yet-handed-over command answers: pending, on the secondary store. */
export function intakeResult(r: IntakeRow, replayed: boolean): CommandResult {
  return {
    id: r.id,
    type: r.type,
    key: r.key,
    principal: r.principal,
    status: 'pending',
    result: null,
    error: null,
    replayed,
    attempts: 0,
    createdAt: r.received_at,
    finishedAt: null,
    // Not scheduled here: it runs once handed over to the primary.
    nextAttemptAt: null,
    pausedOn: null,
    store: 'secondary',
  };
}

export async function findIntake(
  db: Executor,
  s: string,
  ref: { type: string; principal: string; key: string },
): Promise<IntakeRow | null> {
  const [row] = await db.query(intakeByKeySql(s, ref.type, ref.principal, ref.key));
  return row ? normalizeIntake(row) : null;
}

export type Handover = 'moved' | 'merged' | 'rejected';

/**
 * Hands one intake row (locked by the caller's secondary transaction `stx`) over to the primary: the
 * command is created there with the same id, unless its key already lives there — then the intake row
 * only points at it ('merged' when the key parameters agree, 'rejected' when they differ). Either way
 * nothing has run on the secondary, so nothing can run twice. Idempotent: a crash between the primary
 * insert and the mark is finished by the next hand-over, which finds its own id on the primary.
 */
export async function handOver(
  primary: Executor,
  stx: Executor,
  s: string,
  row: IntakeRow,
  now: Date,
): Promise<{ how: Handover; primaryId: string }> {
  const [adopted] = await primary.query<{ id: string }>(adoptIntakeSql(s, row, now));
  let how: Handover = 'moved';
  let primaryId = row.id;
  if (!adopted) {
    const [there] = await primary.query<{ id: string; fingerprint: string }>(
      commandByKeySql(s, row.type, row.principal, row.key),
    );
    primaryId = String(there!.id);
    if (primaryId !== row.id) how = there!.fingerprint === row.fingerprint ? 'merged' : 'rejected';
  }
  await stx.query(markHandedOverSql(s, row.id, how, primaryId, now));
  return { how, primaryId };
}

/** Hands over the open intake row with this key, if there is one (a lookup on the primary found none). */
export async function handOverKey(
  f: ResolvedFailover,
  primary: Executor,
  s: string,
  ref: { type: string; principal: string; key: string },
  now: Date,
): Promise<IntakeRow | null> {
  return f.db.transaction(async (stx) => {
    const [r] = await stx.query(intakeByKeySql(s, ref.type, ref.principal, ref.key, true));
    if (!r) return null;
    const row = normalizeIntake(r);
    if (row.handed_over_at === null) await handOver(primary, stx, s, row, now);
    return row;
  });
}

/**
 * One hand-over round for the worker: up to `limit` open intake rows of `types`, oldest first. Rows
 * another worker is handing over are skipped. Returns how many were handed over.
 *
 * @example
 * await handOverDue(failover, config.db, config.s, ['redeem'], 16, new Date());
 */
export async function handOverDue(
  f: ResolvedFailover,
  primary: Executor,
  s: string,
  types: readonly string[],
  limit: number,
  now: Date,
): Promise<number> {
  return f.db.transaction(async (stx) => {
    const rows = (await stx.query(claimIntakeSql(s, types, limit))).map(normalizeIntake);
    for (const row of rows) await handOver(primary, stx, s, row, now);
    return rows.length;
  });
}
