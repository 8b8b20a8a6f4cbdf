import type { Executor } from '../../db/types.js';
import { isTallyError, TallyError } from '../../errors.js';
import type { Tally } from '../../tally.js';
import { type ConsoleDownstream, checkRequest, commandIds, redriveCommands } from './downstream.js';
import { ConsoleError } from './problem.js';
import { isUuid } from './query.js';
import { MAX_FINDINGS, repairEntity } from './reconcile.js';

/** What an action runs with: the instance, and who asked why (both checked, 1-200 characters). */
export interface ActionContext {
  readonly tally: Tally;
  readonly db: Executor;
  /** The quoted schema. */
  readonly s: string;
  readonly actor: string;
  readonly reason: string;
  /** The downstreams the server was configured with (the re-drive action checks against them). */
  readonly downstreams?: readonly ConsoleDownstream[];
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

const ALERT_ID = (v: string) => /^[1-9]\d{0,17}$/.test(v);

/** Requeue one needs_attention command: back to the worker with a new budget (tally.actions.requeue). */
export const requeueAction: ConsoleAction = {
  name: 'requeue',
  appliesTo: (c) => c.status === 'needs_attention',
  run: (ctx, body) => ctx.tally.actions.requeue(field(body, 'commandId', isUuid), ctx),
};

/** Make a pending or backing-off command due now, its budget untouched (tally.actions.retryNow). */
export const retryNowAction: ConsoleAction = {
  name: 'retry-now',
  appliesTo: (c) => c.status === 'pending' || c.status === 'compensating',
  run: (ctx, body) => ctx.tally.actions.retryNow(field(body, 'commandId', isUuid), ctx),
};

/** Resolve an open alert with who and why (tally.actions.resolveAlert). */
export const resolveAlertAction: ConsoleAction = {
  name: 'resolve-alert',
  appliesTo: (c) => c.openAlerts > 0,
  run: (ctx, body) => ctx.tally.actions.resolveAlert(field(body, 'alertId', ALERT_ID), ctx),
};

/**
 * Resume an unfinished job (tally.actions.resumeJob). It runs the job's chunks, so it needs the job's
 * entity declared on the instance the server acts through: a plain `tally serve` declares none, so there it
 * is ACTION_NOT_AVAILABLE saying so (`tally serve --module`, or a console started in the app's process with
 * its `tally`, can resume).
 */
export const resumeJobAction: ConsoleAction = {
  name: 'resume-job',
  async run(ctx, body) {
    const id = field(body, 'jobId', isUuid);
    try {
      // One chunk in the request (the action is checked, recorded and under way); the rest runs on in this
      // process, its progress on GET /api/jobs/:id. A failure there is the job's, recorded on it.
      const first = await ctx.tally.actions.resumeJob(id, {
        actor: ctx.actor,
        reason: ctx.reason,
        maxChunks: 1,
      });
      if (first.status !== 'done' && first.status !== 'failed') {
        ctx.tally.jobs.run(id).catch(() => {});
      }
      return first;
    } catch (err) {
      if (!isTallyError(err, 'UNKNOWN_ENTITY')) throw err;
      throw new ConsoleError(
        'ACTION_NOT_AVAILABLE',
        "this server has no declaration of the job's entity: start tally serve with the app's setup module (--module PATH), or the console in the app's process with its tally",
      );
    }
  },
};

/** An entity type's name as the body gives it. */
export const ENTITY_NAME = (v: string) => v.length >= 1 && v.length <= 200;

/**
 * Repair one entity type (`{ entity, keys?, acceptMissingLog?, actor, reason }`): re-runs the check and
 * writes a `repair` log entry for each repairable finding (tally.actions.repair records the operator).
 * Repairs over missing log entries are withheld unless `acceptMissingLog: true` (decision 0112). Needs
 * the entity declared: ENTITY_NOT_DECLARED (422) under `tally serve`.
 */
export const repairAction: ConsoleAction = {
  name: 'repair',
  run(ctx, body) {
    const entity = field(body, 'entity', ENTITY_NAME);
    const keys = body.keys;
    if (
      keys !== undefined &&
      (!Array.isArray(keys) || keys.length > MAX_FINDINGS || keys.some((k) => typeof k !== 'string'))
    ) {
      throw new ConsoleError('MALFORMED_BODY', "the body's keys must be a list of strings", {
        param: 'keys',
      });
    }
    const accept = body.acceptMissingLog;
    if (accept !== undefined && typeof accept !== 'boolean') {
      throw new ConsoleError('MALFORMED_BODY', "the body's acceptMissingLog must be true or false", {
        param: 'acceptMissingLog',
      });
    }
    return repairEntity(ctx.tally, {
      entity,
      keys: keys === undefined ? null : (keys as string[]),
      acceptMissingLog: accept === true,
      actor: ctx.actor,
      reason: ctx.reason,
    });
  },
};

/**
 * Re-drive the commands a commands <-> downstream check finds a re-drive can settle (`{ downstream, type?,
 * since?, until?, scope?, commandIds?, actor, reason }`, decision 0149): the check runs again (agreeing
 * calls are marked settled, nothing is alerted), then tally.actions.redrive makes the planned commands due
 * and records the operator per command. Nothing to re-drive: ACTION_NOT_APPLICABLE (409).
 */
export const redriveAction: ConsoleAction = {
  name: 'redrive',
  run(ctx, body) {
    const r = checkRequest(ctx.downstreams ?? [], body);
    return redriveCommands(ctx.tally, ctx.db, ctx.tally.config.schemaName, r, commandIds(body), ctx);
  },
};

/** The actions every console has; ConsoleServerOptions.actions adds more (a later name replaces one). */
export const BUILT_IN_ACTIONS: readonly ConsoleAction[] = [
  requeueAction,
  retryNowAction,
  resolveAlertAction,
  resumeJobAction,
  repairAction,
  redriveAction,
];

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
