import type { EntityRuntime } from '../changes/apply.js';
import type { Entity } from '../changes/entity.js';
import { runJob } from '../changes/jobs/run.js';
import { jobStatus } from '../changes/jobs/status.js';
import type { JobStatus } from '../changes/jobs/types.js';
import { type Alert, Alerts } from '../commands/alerts.js';
import { listActionsSql, recordActionSql, recordActionsSql } from '../commands/operator-actions-sql.js';
import { type RequeuedCommand, requeueFilter } from '../commands/requeue.js';
import { requeueSql } from '../commands/requeue-sql.js';
import { retryNowSql } from '../commands/retry-now-sql.js';
import type { TallyConfig } from '../config.js';
import { TallyError } from '../errors.js';
import { applyRedrive, type RedrivePlan } from '../reconcile/commands/redrive.js';
import {
  type ApplyRepairOptions,
  applyRepair,
  type RepairPlan,
  type RepairResult,
} from '../reconcile/repair.js';
import { actionBy, commandId, notApplicable, toAction } from './checks.js';

/** Who acts and why: both required, 1-200 characters, recorded with the action. */
export interface ActionBy {
  actor: string;
  reason: string;
}

/** One recorded operator action (decision 0145). */
export interface OperatorAction {
  id: string;
  /** `retry_now`, `requeue`, `resolve_alert`, `resume_job`, `repair` or `redrive`. */
  action: string;
  /** The command, alert or job id (for a repair: the entity names, comma-separated). */
  target: string;
  actor: string;
  reason: string;
  /** What the action found and did (the status before, counts). */
  data: unknown;
  at: Date;
}

export interface RetryNowResult {
  id: string;
  type: string;
  status: 'pending' | 'compensating';
  /** When it was due before (a backoff's end, or its deadline while paused on a breaker). */
  wasDueAt: Date;
}

/**
 * What an operator does to fix things, one place for the library, the CLI and the console (decision
 * 0145). Each action needs an actor and a reason (MISSING_ACTOR / MISSING_REASON), records both (an
 * `operator_actions` row, and the command's timeline or the log where the target has one), and is
 * refused with ACTION_NOT_APPLICABLE when the target's state no longer allows it.
 */
export class OperatorActions {
  readonly #config: TallyConfig;
  readonly #entity: (name: string) => Entity;

  /** @param entity a declared entity by name (jobs and repairs need their entity declared). */
  constructor(config: TallyConfig, entity: (name: string) => Entity) {
    this.#config = config;
    this.#entity = entity;
  }

  /**
   * Makes a pending or backing-off command due now, its budget untouched (the next attempt counts as
   * any retry does). Refused for a finished command or one waiting for a person (requeue that one);
   * COMMAND_IN_FLIGHT while a worker drives it.
   *
   * @example
   * await tally.actions.retryNow(commandId, { actor: 'ops:ana', reason: 'C is back, ticket 81' });
   */
  async retryNow(id: string, by: ActionBy): Promise<RetryNowResult> {
    const who = actionBy(by, 'retry now');
    const cid = commandId(id);
    const { db, s, clock } = this.#config;
    const [r] = await db.transaction((tx) => tx.query(retryNowSql(s, { id: cid, ...who, at: clock() })));
    if (!r) throw new TallyError('COMMAND_NOT_FOUND', 'no command has this id');
    if (r.applied !== true) {
      if (r.in_flight === true && (r.status === 'pending' || r.status === 'compensating')) {
        throw new TallyError('COMMAND_IN_FLIGHT', 'a worker is driving this command right now', {
          details: { status: r.status },
        });
      }
      throw notApplicable('retry now', String(r.status));
    }
    return {
      id: String(r.id),
      type: String(r.type),
      status: r.status as RetryNowResult['status'],
      wasDueAt: r.next_at instanceof Date ? r.next_at : new Date(String(r.next_at)),
    };
  }

  /**
   * Requeues one `needs_attention` command: back to the worker with a new budget. Refused for any other
   * status (use `retryNow` for a pending one).
   *
   * @example
   * await tally.actions.requeue(commandId, { actor: 'ops:ana', reason: 'C recovered at 10:14' });
   */
  async requeue(id: string, by: ActionBy): Promise<RequeuedCommand> {
    const who = actionBy(by, 'requeue');
    const cid = commandId(id);
    const { db, s, clock } = this.#config;
    const f = requeueFilter({ ...who, id: cid, limit: 1 }, []);
    return db.transaction(async (tx) => {
      const at = clock();
      const [row] = await tx.query(requeueSql(s, f, { ...who, at }));
      if (!row) {
        const [c] = await tx.query<{ status: string }>({
          text: `SELECT status FROM ${s}.commands WHERE id = $1::uuid`,
          values: [cid],
        });
        if (!c) throw new TallyError('COMMAND_NOT_FOUND', 'no command has this id');
        throw notApplicable('requeue', c.status);
      }
      await tx.query(
        recordActionSql(s, {
          action: 'requeue',
          target: cid,
          ...who,
          at,
          data: { type: row.type, to: row.status },
        }),
      );
      return {
        id: String(row.id),
        type: String(row.type),
        key: String(row.key),
        principal: String(row.principal),
        status: row.status as RequeuedCommand['status'],
        createdAt: row.created_at instanceof Date ? row.created_at : new Date(String(row.created_at)),
      };
    });
  }

  /**
   * Resolves an open alert (as `tally.alerts.resolve`, decision 0058); refused when it is resolved
   * already.
   *
   * @example
   * await tally.actions.resolveAlert('42', { actor: 'ops:ana', reason: 'prize re-issued by hand' });
   */
  async resolveAlert(id: string, by: ActionBy): Promise<Alert> {
    const who = actionBy(by, 'resolving an alert');
    const r = await new Alerts(this.#config).resolve(id, who);
    if (!r.resolved) throw notApplicable('resolving an alert', 'resolved');
    return r.alert;
  }

  /**
   * Resumes an unfinished job (pending, running with its runner gone, or failed: from its first
   * unprocessed item) and runs it to its end or `maxChunks`. Refused for a done job; JOB_BUSY while a
   * live runner holds it. The action is recorded before the job runs.
   *
   * @example
   * const s = await tally.actions.resumeJob(jobId, { actor: 'ops:ana', reason: 'runner OOM-killed' });
   */
  async resumeJob(id: string, by: ActionBy & { maxChunks?: number }): Promise<JobStatus> {
    const who = actionBy(by, 'resuming a job');
    const { db, s, clock } = this.#config;
    const before = await jobStatus(this.#config, db, id);
    if (before.status === 'done') throw notApplicable('resuming a job', 'done');
    if (before.lease && before.lease.until > clock()) {
      throw new TallyError('JOB_BUSY', 'a runner holds this job until its lease expires', {
        details: { jobId: before.id },
      });
    }
    const rt = this.#entity(before.entity).runtime as EntityRuntime;
    await db.query(
      recordActionSql(s, {
        action: 'resume_job',
        target: before.id,
        ...who,
        at: clock(),
        data: { entity: before.entity, status: before.status, pending: before.pending },
      }),
    );
    return runJob(this.#config, () => rt, before.id, {
      ...(by.maxChunks === undefined ? {} : { maxChunks: by.maxChunks }),
    });
  }

  /**
   * Applies a repair plan (`planRepair(report)`), each repair entry written to the log with the actor
   * and reason (decision 0112 for `acceptMissingLog`). Refused when the plan is empty or nothing in it
   * is left to repair (applied already, or every row changed since).
   *
   * @example
   * const plan = planRepair(await reconcile(...));
   * await tally.actions.repair(plan, { actor: 'ops:ana', reason: 'INC-7: batch bypassed the log' });
   */
  async repair(
    plan: RepairPlan,
    by: ActionBy & Omit<ApplyRepairOptions, 'actor' | 'reason'>,
  ): Promise<RepairResult> {
    const who = actionBy(by, 'a repair');
    if (!plan || !Array.isArray(plan.repairs)) {
      throw new TallyError('INVALID_RECONCILE_OPTIONS', 'pass the plan planRepair returned');
    }
    if (plan.repairs.length === 0) throw notApplicable('a repair', 'nothing planned');
    const names = [...new Set(plan.repairs.map((r) => r.entity))].sort();
    const entities = names.map((n) => this.#entity(n));
    const result = await applyRepair(entities, plan, { ...by, ...who });
    if (result.repaired === 0 && result.withheld.length === 0) {
      throw notApplicable('a repair', 'repaired already');
    }
    await recordRepair(this.#config, plan, result, who);
    return result;
  }

  /**
   * Re-drives the commands of a re-drive plan (`planRedrive(report)` of `reconcileCommands`): each is made
   * due again (`needs_attention` back to the worker) with a `reconcile_redrive` event, and an
   * operator_actions row per command re-driven, in one transaction. Refused when the plan holds nothing
   * to re-drive, or when nothing in it could be (finished, due already, or held by a worker since).
   *
   * @example
   * const plan = planRedrive(await reconcileCommands({ db, type: 'redeem', downstream }));
   * await tally.actions.redrive(plan, { actor: 'ops:ana', reason: 'C has no record of these: send again' });
   */
  async redrive(plan: RedrivePlan, by: ActionBy): Promise<{ redriven: { id: string; from: string }[] }> {
    const who = actionBy(by, 'a re-drive');
    if (!plan || !Array.isArray(plan.redrive)) {
      throw new TallyError('INVALID_RECONCILE_OPTIONS', 'pass the plan planRedrive returned');
    }
    if (plan.redrive.length === 0) throw notApplicable('a re-drive', 'nothing planned');
    const types = new Map(plan.redrive.map((m) => [m.commandId, m.type]));
    const { db, schemaName, s, clock } = this.#config;
    return db.transaction(async (tx) => {
      const at = clock();
      const r = await applyRedrive({ db: tx, schema: schemaName, plan, ...who, clock: () => at });
      if (r.redriven.length === 0) throw notApplicable('a re-drive', 'redriven already');
      await tx.query(
        recordActionsSql(
          s,
          { action: 'redrive', ...who, at },
          r.redriven.map((c) => ({ target: c.id, data: { type: types.get(c.id), from: c.from } })),
        ),
      );
      return r;
    });
  }

  /**
   * Recorded operator actions, newest first: of one target (a command, alert or job id) or one action.
   *
   * @example
   * for (const a of await tally.actions.list({ target: commandId })) console.log(a.at, a.actor, a.action, a.reason);
   */
  async list(filter: { target?: string; action?: string; limit?: number } = {}): Promise<OperatorAction[]> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
      throw new TallyError('INVALID_SELECTION', 'actions: limit must be an integer from 1 to 100000');
    }
    const rows = await this.#config.db.query(
      listActionsSql(this.#config.s, {
        target: filter.target ?? null,
        action: filter.action ?? null,
        limit,
      }),
    );
    return rows.map(toAction);
  }
}

/**
 * Records an applied repair as an operator action (after it applied: its log entries are already written,
 * each with actor and reason). Shared by `tally.actions.repair` and `tally repair --apply` (decision 0148);
 * a repair that changed nothing and withheld nothing leaves no row.
 */
export async function recordRepair(
  config: TallyConfig,
  plan: RepairPlan,
  result: RepairResult,
  who: ActionBy,
): Promise<void> {
  if (result.repaired === 0 && result.withheld.length === 0) return;
  const names = [...new Set(plan.repairs.map((r) => r.entity))].sort();
  await config.db.query(
    recordActionSql(config.s, {
      action: 'repair',
      target: names.join(','),
      ...actionBy(who, 'a repair'),
      at: config.clock(),
      data: { planned: plan.repairs.length, repaired: result.repaired, withheld: result.withheld.length },
    }),
  );
}
