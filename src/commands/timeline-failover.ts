import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { checkIdempotencyKey, checkPrincipal } from './canonical.js';
import type { CommandRuntime } from './context.js';
import type { ResolvedFailover } from './failover.js';
import { findIntake, normalizeIntake } from './intake.js';
import { type IntakeRow, intakeByIdSql } from './intake-sql.js';
import { commandByKeySql } from './sql.js';
import { readTimeline, type Timeline } from './timeline.js';
import { intakeTimeline, withIntake } from './timeline-merge.js';
import { isUnreachable } from './unreachable.js';

type Ref = { id: string } | { key: string; principal: string };
type Row = Record<string, unknown>;

/**
 * `command.timeline` with a failover store (decision 0037): the primary's record and the secondary's
 * (`command_intake`) of the same command, events merged by time, each tagged with its store. A store that
 * is unreachable is named in `stores` and its records are left out; with both away, STORES_UNAVAILABLE.
 * A command only the secondary holds (not handed over yet) is shown from its record there.
 */
export async function timelineWithFailover(
  rt: CommandRuntime,
  f: ResolvedFailover,
  ref: Ref,
  find: (ref: Ref) => Promise<Row | null>,
): Promise<Timeline | null> {
  const { config, spec } = rt;
  let row: Row | null = null;
  let primary: 'read' | 'unavailable' = 'read';
  let primaryError: unknown;
  try {
    row = await find(ref);
  } catch (err) {
    if (!isUnreachable(err)) throw err;
    primary = 'unavailable';
    primaryError = err;
  }
  let intake: IntakeRow | null = null;
  let secondary: 'read' | 'unavailable' = 'read';
  try {
    intake = await intakeOf(f.db, config.s, spec.name, ref, row);
  } catch (err) {
    if (!isUnreachable(err)) throw err;
    secondary = 'unavailable';
  }
  if (!row && intake && primary === 'read' && intake.handed_over_at !== null) {
    // Found by the id it was recorded under, but merged into (or rejected by) a command the primary
    // already had with that key: that command is the one that answers for it.
    [row = null] = await config.db.query(
      commandByKeySql(config.s, intake.type, intake.principal, intake.key),
    );
  }
  if (row) return withIntake(await readTimeline(config.s, config.db, row), intake, secondary);
  if (intake) return intakeTimeline(intake, primary);
  if (primary === 'unavailable') {
    if (secondary === 'unavailable') {
      throw new TallyError('STORES_UNAVAILABLE', `command ${spec.name}: neither store is reachable`, {
        cause: primaryError,
      });
    }
    throw primaryError;
  }
  return null;
}

async function intakeOf(db: Executor, s: string, type: string, ref: Ref, row: Row | null) {
  if (row) return findIntake(db, s, { type, principal: String(row.principal), key: String(row.key) });
  if ('id' in ref) {
    const [r] = await db.query(intakeByIdSql(s, ref.id));
    return r && r.type === type ? normalizeIntake(r) : null;
  }
  return findIntake(db, s, {
    type,
    principal: checkPrincipal(ref.principal),
    key: checkIdempotencyKey(ref.key),
  });
}
