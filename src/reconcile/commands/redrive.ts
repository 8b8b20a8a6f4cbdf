import { quoteIdent } from '../../db/ident.js';
import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { redriveSql } from './sql.js';
import type { CommandDifference, CommandsReport } from './types.js';

export interface RedrivePlan {
  /** Commands a re-drive can settle: `needs_attention` (the worker gave up) or backed off while pending. */
  redrive: CommandDifference[];
  /** Finished commands (succeeded or failed): nothing to drive; a person decides (refund, re-issue). */
  manual: CommandDifference[];
}

/**
 * Splits a report's mismatches into what a re-drive can settle and what needs a person. Pure: a dry run.
 *
 * @example
 * const plan = planRedrive(report);
 * console.log(plan.redrive.length, 'to re-drive;', plan.manual.length, 'for a person');
 */
export function planRedrive(report: CommandsReport): RedrivePlan {
  const redrive: CommandDifference[] = [];
  const manual: CommandDifference[] = [];
  for (const m of report.mismatches) {
    if (m.status === 'succeeded' || m.status === 'failed') manual.push(m);
    else redrive.push(m);
  }
  return { redrive, manual };
}

export interface RedriveOptions {
  db: Executor;
  schema?: string;
  plan: RedrivePlan;
  /** Who re-drives (lands on each command's timeline). */
  actor: string;
  reason: string;
  clock?: () => Date;
}

/**
 * Makes the planned commands due again so the worker drives them once more (it re-sends the stored
 * request or queries the downstream by key). Logged as a `reconcile_redrive` event with actor and
 * reason; idempotent — a command already due, finished, or held by a worker is left alone.
 *
 * @example
 * const { redriven } = await applyRedrive({ db, plan: planRedrive(report), actor: 'ops:ana', reason: 'daily reconcile' });
 */
export async function applyRedrive(o: RedriveOptions): Promise<{ redriven: { id: string; from: string }[] }> {
  if (!o || typeof o !== 'object' || !o.db || typeof o.db.query !== 'function') {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'applyRedrive needs { db, plan, actor, reason }');
  }
  const s = quoteIdent(o.schema ?? 'tally', 'schema');
  if (typeof o.actor !== 'string' || o.actor.trim() === '') {
    throw new TallyError('MISSING_ACTOR', 'a re-drive needs an actor');
  }
  if (typeof o.reason !== 'string' || o.reason.trim() === '') {
    throw new TallyError('MISSING_REASON', 'a re-drive needs a reason');
  }
  if (!o.plan || !Array.isArray(o.plan.redrive)) {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'plan must come from planRedrive(report)');
  }
  const ids = [...new Set(o.plan.redrive.map((m) => m.commandId))];
  if (ids.length === 0) return { redriven: [] };
  const now = (o.clock ?? (() => new Date()))();
  const rows = await o.db.query<{ id: string; was: string }>(redriveSql(s, ids, now, o.actor, o.reason));
  return { redriven: rows.map((r) => ({ id: r.id, from: r.was })) };
}
