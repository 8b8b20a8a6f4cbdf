import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import type { Tally } from '../../tally.js';
import { ConsoleError } from './problem.js';
import { isUuid } from './query.js';

/** What an action runs with: the instance, and who asked why (both checked, 1-200 characters). */
export interface ActionContext {
  readonly tally: Tally;
  readonly db: Executor;
  /** The quoted schema. */
  readonly s: string;
  readonly actor: string;
  readonly reason: string;
}

/**
 * An operator action (POST /api/actions/:name). This list is the seam new actions join through: the
 * library does the work and records the operator as actor with the reason; the action only reads its
 * target from the body and says when it no longer applies (ACTION_NOT_APPLICABLE, 409).
 */
export interface ConsoleAction {
  readonly name: string;
  /** Whether it applies to a command in this state (the command page lists those). Default: never listed. */
  appliesTo?(command: { status: string; openAlerts: number }): boolean;
  run(ctx: ActionContext, body: Readonly<Record<string, unknown>>): Promise<unknown>;
}

/** A body field the action needs, checked (MALFORMED_BODY naming the field). */
export function field(
  body: Readonly<Record<string, unknown>>,
  name: string,
  test: (v: string) => boolean,
): string {
  const v = body[name];
  if (typeof v !== 'string' || !test(v)) {
    throw new ConsoleError('MALFORMED_BODY', `the body's ${name} is missing or malformed`, { param: name });
  }
  return v;
}

/** Requeue one needs_attention command: back to the worker with a new budget (tally.requeue). */
export const requeueAction: ConsoleAction = {
  name: 'requeue',
  appliesTo: (c) => c.status === 'needs_attention',
  async run(ctx, body) {
    const id = field(body, 'commandId', isUuid).toLowerCase();
    const r = await ctx.tally.requeue({ id, actor: ctx.actor, reason: ctx.reason });
    if (r.requeued === 1) return r.commands[0];
    const [row] = await ctx.db.query<{ status: string }>({
      text: `SELECT status FROM ${ctx.s}.commands WHERE id = $1::uuid`,
      values: [id],
    });
    if (!row) throw new TallyError('COMMAND_NOT_FOUND', 'no command has this id');
    throw new ConsoleError(
      'ACTION_NOT_APPLICABLE',
      'the command is not needs_attention any more: nothing to requeue',
      { status: row.status },
    );
  },
};

/** Resolve an open alert with who and why (tally.alerts.resolve). */
export const resolveAlertAction: ConsoleAction = {
  name: 'resolve-alert',
  appliesTo: (c) => c.openAlerts > 0,
  async run(ctx, body) {
    const id = field(body, 'alertId', (v) => /^[1-9]\d{0,17}$/.test(v));
    const r = await ctx.tally.alerts.resolve(id, { actor: ctx.actor, reason: ctx.reason });
    if (!r.resolved) {
      throw new ConsoleError('ACTION_NOT_APPLICABLE', 'the alert is resolved already', {
        resolvedAt: r.alert.resolvedAt?.toISOString() ?? null,
      });
    }
    return r.alert;
  },
};

/** The actions every console has; ConsoleServerOptions.actions adds more (a later name replaces one). */
export const BUILT_IN_ACTIONS: readonly ConsoleAction[] = [requeueAction, resolveAlertAction];

/** The actions of a server, by name. */
export function actionTable(extra: readonly ConsoleAction[]): ReadonlyMap<string, ConsoleAction> {
  return new Map([...BUILT_IN_ACTIONS, ...extra].map((a) => [a.name, a]));
}

/** Checks the actor and reason every action records (MISSING_ACTOR / MISSING_REASON). */
export function whoAndWhy(body: Readonly<Record<string, unknown>>): { actor: string; reason: string } {
  const text = (v: unknown) => typeof v === 'string' && v.trim().length > 0 && v.length <= 200;
  if (!text(body.actor)) throw new TallyError('MISSING_ACTOR', 'an action needs an actor: 1-200 characters');
  if (!text(body.reason))
    throw new TallyError('MISSING_REASON', 'an action needs a reason: 1-200 characters');
  return { actor: String(body.actor), reason: String(body.reason) };
}
