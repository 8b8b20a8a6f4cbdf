import type { TallyConfig } from '../config.js';
import { TallyError } from '../errors.js';
import { checkIdempotencyKey, checkPrincipal } from './canonical.js';
import type { CommandRuntime } from './context.js';
import type { CommandSpec } from './definition.js';
import { type CommandStore, commandStore, requireCommandCapability } from './dialect/index.js';
import { drive } from './drive.js';
import { getWithFailover } from './failover-submit.js';
import { normalizeRow, TRANSITIONS } from './machine.js';
import { type NotifyResult, notify } from './notify.js';
import { requeue, requeueFilter } from './requeue.js';
import type { Definite } from './resolve.js';
import { type CommandResult, toResult } from './result.js';
import type { CommandStatus } from './sql.js';
import { type SubmitInput, submit } from './submit.js';
import { type CommandAlert, readTimelineFrom, type Timeline, toAlert } from './timeline.js';
import { timelineWithFailover } from './timeline-failover.js';

export type CommandRef = { id: string } | { key: string; principal: string };

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * A declared once-only command type: `I` is the input its steps see (a schema's output), `R` its result,
 * `In` what `submit` takes (a schema's input type; the same as `I` without a schema).
 */
export class Command<I = any, R = unknown, In = I> {
  readonly name: string;
  readonly #rt: CommandRuntime;
  readonly #store: CommandStore;

  constructor(config: TallyConfig, spec: CommandSpec<I>) {
    this.name = spec.name;
    this.#store = commandStore(config);
    refuseUnported(this.#store, spec);
    if (spec.change && spec.change.entity.config !== config) {
      throw new TallyError(
        'INVALID_COMMAND',
        `command ${spec.name}: change.entity must be declared on the same Tally instance as the command`,
      );
    }
    this.#rt = { config, spec };
  }

  /** @internal how the worker drives commands of this type. */
  get runtime(): CommandRuntime {
    return this.#rt;
  }

  /** The command's states: its steps in order, and the allowed moves between statuses. */
  get states(): { steps: string[]; transitions: Readonly<Record<CommandStatus, readonly CommandStatus[]>> } {
    return { steps: this.#rt.spec.steps.map((s) => s.name), transitions: TRANSITIONS };
  }

  /**
   * Submits a request once: the first time it is recorded and run; a retry with the same key returns
   * the recorded outcome (or continues from the recorded state); changed key parameters are refused.
   *
   * @example
   * const r = await redeem.submit({ key: req.headers['idempotency-key'], principal: user.id, input: body });
   * if (r.status === 'succeeded') reply.send(r.result); else if (r.status === 'pending') reply.code(202);
   */
  submit(args: SubmitInput<In>): Promise<CommandResult<R>> {
    return submit(this.#rt, args) as Promise<CommandResult<R>>;
  }

  /**
   * The recorded state of the command a principal submitted with `key` (null if none: another
   * principal's commands are invisible).
   *
   * @example
   * const r = await redeem.get({ key, principal: 'user:42' });
   */
  async get(ref: { key: string; principal: string }): Promise<CommandResult<R> | null> {
    const f = this.#rt.spec.failover;
    if (f) return (await getWithFailover(this.#rt, f, ref)) as CommandResult<R> | null;
    const row = await this.#find(ref);
    return row ? toResult<R>(normalizeRow(row), true) : null;
  }

  /**
   * Everything recorded about a command: attempts, decisions, snapshots, outcomes, alerts, with times.
   * With a failover store, its record of the command too (each event says which store wrote it; a store
   * that cannot be reached is named in `stores`).
   *
   * @example
   * const t = await redeem.timeline({ key, principal: 'user:42' });
   * for (const e of t!.events) console.log(e.at.toISOString(), e.kind, e.step ?? '', e.data);
   */
  async timeline(ref: CommandRef): Promise<Timeline | null> {
    const f = this.#rt.spec.failover;
    if (f) return timelineWithFailover(this.#rt, f, ref, (r) => this.#find(r));
    const row = await this.#find(ref);
    return row ? readTimelineFrom(this.#store, this.#rt.config.db, row) : null;
  }

  /**
   * Takes in the downstream's asynchronous message about a call (by the key it was sent with).
   * Duplicates are absorbed; a contradiction of a recorded outcome raises an alert and changes nothing.
   *
   * @example
   * app.post('/callbacks/prizes', async (req) => redeem.notify(req.body.key, req.body.ok
   *   ? { outcome: 'success', value: req.body.prize } : { outcome: 'failure', reason: req.body.code }));
   */
  notify(downstreamKey: string, message: Definite, options?: { drive?: boolean }): Promise<NotifyResult> {
    return notify(this.#rt, downstreamKey, message, options);
  }

  /**
   * Alerts raised for this command type (attempt limit reached, contradicting or unknown messages).
   *
   * @example
   * for (const a of await redeem.alerts({ open: true })) page(a.message);
   */
  async alerts(options: { open?: boolean; commandId?: string } = {}): Promise<CommandAlert[]> {
    const { config } = this.#rt;
    const rows = await this.#store.alerts(
      config.db,
      this.name,
      options.commandId ?? null,
      options.open ?? false,
    );
    return rows.map(toAlert);
  }

  /**
   * Drives one command now if nobody holds it (an operator's "retry now"; the worker does this on its own).
   *
   * @example
   * await redeem.resume({ id: commandId });
   */
  async resume(ref: CommandRef): Promise<CommandResult<R> | null> {
    const { config, spec } = this.#rt;
    const row = await this.#find(ref);
    if (!row) return null;
    const id = String(row.id);
    const owner = `resume:${config.ids()}`;
    const t = config.clock();
    const claimed = await this.#store.claim(config.db, {
      id,
      owner,
      now: t,
      until: new Date(t.getTime() + spec.leaseMs),
      due: false,
    });
    const after = claimed ? await drive(this.#rt, id, owner) : normalizeRow(row);
    return toResult<R>(after, true);
  }

  /**
   * Frees one stranded (`needs_attention`) command: it goes back to the worker with a new budget
   * (attempts from 0, the deadline counting from now), recorded on its timeline with who and why.
   * `requeued` is false (and nothing changes) when the command is not waiting for a person.
   *
   * @example
   * await redeem.requeue({ id: commandId }, { actor: 'ops:alice', reason: 'prize platform is back' });
   */
  async requeue(
    ref: CommandRef,
    by: { actor: string; reason: string },
  ): Promise<{ requeued: boolean; command: CommandResult<R> | null }> {
    const { config, spec } = this.#rt;
    const filter = requeueFilter({ ...by, type: this.name, limit: 1 }, [spec]);
    const row = await this.#find(ref);
    if (!row) return { requeued: false, command: null };
    const done = await requeue(config, { ...filter, id: String(row.id) }, { ...by });
    const after = await this.#store.byId(config.db, String(row.id));
    return { requeued: done.requeued === 1, command: after ? toResult<R>(normalizeRow(after), true) : null };
  }

  async #find(ref: CommandRef): Promise<Record<string, unknown> | null> {
    const { config } = this.#rt;
    if (ref && 'id' in ref) {
      if (typeof ref.id !== 'string' || !UUID_RE.test(ref.id)) {
        throw new TallyError('COMMAND_NOT_FOUND', 'a command id is a UUID');
      }
      const row = await this.#store.byId(config.db, ref.id);
      return row && row.type === this.name ? row : null;
    }
    const key = checkIdempotencyKey(ref?.key);
    const principal = checkPrincipal(ref?.principal);
    return (await this.#store.byKey(config.db, this.name, principal, key)) ?? null;
  }
}

/** A declaration that needs what its dialect does not run yet is refused when declared, not when it runs. */
function refuseUnported(store: CommandStore, spec: CommandSpec): void {
  const what = `command ${spec.name}`;
  if (spec.change) requireCommandCapability(store, 'change', `${what}: change`);
  if (spec.failover) requireCommandCapability(store, 'failover', `${what}: failover`);
  if (spec.keyRetentionMs !== null) requireCommandCapability(store, 'retention', `${what}: keyRetention`);
  if (spec.steps.some((s) => s.kind === 'call' && s.breaker !== null)) {
    requireCommandCapability(
      store,
      'breaker',
      `${what}: a call step's breaker (breaker: false declares none)`,
    );
  }
}
