import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { backoffMs, type CommandSpec } from './definition.js';
import type { CommandStore } from './dialect/index.js';
import type { CallOutcome, NewCall, SaveExpectation } from './save-sql.js';
import type { CommandRow, CommandStatus, EventIn } from './sql.js';

/**
 * The command's own state machine. Where a `pending` command stands inside its steps is `step_index`;
 * only a definite answer moves it to `succeeded` or `failed` (through `compensating` when completed steps
 * must be undone). `needs_attention` waits for a person, or for a definite answer that arrives late.
 */
export const TRANSITIONS: Readonly<Record<CommandStatus, readonly CommandStatus[]>> = {
  pending: ['pending', 'compensating', 'succeeded', 'failed', 'needs_attention'],
  compensating: ['compensating', 'failed', 'needs_attention'],
  needs_attention: ['pending', 'compensating', 'succeeded', 'failed'],
  succeeded: [],
  failed: [],
};

export const ACTIVE: ReadonlySet<CommandStatus> = new Set(['pending', 'compensating']);
export const FINAL: ReadonlySet<CommandStatus> = new Set(['succeeded', 'failed']);

export function normalizeRow(r: Record<string, unknown>): CommandRow {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  const date = (v: unknown) =>
    v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v));
  return {
    ...(r as unknown as CommandRow),
    params: json(r.params),
    input: json(r.input),
    decisions: (json(r.decisions) ?? {}) as Record<string, unknown>,
    outputs: (json(r.outputs) ?? {}) as Record<string, unknown>,
    result: json(r.result) ?? null,
    error: (json(r.error) ?? null) as CommandRow['error'],
    step_index: Number(r.step_index),
    attempts: Number(r.attempts),
    next_at: date(r.next_at)!,
    lease_until: date(r.lease_until),
    created_at: date(r.created_at)!,
    updated_at: date(r.updated_at)!,
    finished_at: date(r.finished_at),
    budget_from: date(r.budget_from),
    paused_on: (r.paused_on as string | null | undefined) ?? null,
  };
}

/** Lock, check, update: reads the command under its row lock (COMMAND_NOT_FOUND when there is none). */
export async function lockRow(tx: Executor, store: CommandStore, id: string): Promise<CommandRow> {
  const row = await store.lock(tx, id);
  if (!row) throw new TallyError('COMMAND_NOT_FOUND', 'no command with this id', { details: { id } });
  return normalizeRow(row);
}

interface AlertIn {
  kind: string;
  message: string;
  data?: unknown;
}

/**
 * The row changed under someone else's feet: a step that ran without the row lock (the first step
 * right after the record, see drive.ts) found at its save that the record no longer says what it
 * started from. Its transaction rolls back; nothing of it is kept.
 */
export class CommandMoved extends Error {
  constructor(readonly id: string) {
    super(`command ${id} changed while its step ran; the step's transaction was rolled back`);
  }
}

/**
 * The command's key was already recorded (or by a concurrent submit, which this one waited for) when its
 * record opened the first step's transaction (decision 0125): the submit answers as a retry of that one.
 */
export class CommandDuplicate extends Error {
  constructor(readonly id: string) {
    super(`command ${id}: its key was recorded by another submit first; nothing of this one was kept`);
  }
}

/** A command row being changed inside one locked transaction, with the events the change leaves. */
export class Draft {
  readonly row: CommandRow;
  readonly events: EventIn[] = [];
  readonly alerts: AlertIn[] = [];
  /** Set when the row was not locked before the change: what the save must still find. */
  readonly #expect: SaveExpectation | null;
  /** Set when the save is the transaction's last statement: it goes with the COMMIT (decision 0125). */
  #commit: Executor | null = null;

  constructor(
    readonly store: CommandStore,
    row: CommandRow,
    readonly spec: CommandSpec,
    readonly now: Date,
    unlocked = false,
  ) {
    this.row = { ...row, decisions: { ...row.decisions }, outputs: { ...row.outputs } };
    this.#expect = unlocked
      ? { owner: row.lease_owner ?? '', status: row.status, stepIndex: row.step_index }
      : null;
  }

  move(to: CommandStatus): void {
    if (!TRANSITIONS[this.row.status].includes(to)) {
      throw new TallyError(
        'INVALID_COMMAND',
        `command ${this.spec.name}: ${this.row.status} cannot move to ${to}`,
      );
    }
    this.row.status = to;
  }

  keepLease(owner: string): void {
    this.row.lease_owner = owner;
    this.row.lease_until = new Date(this.now.getTime() + this.spec.leaseMs);
  }

  release(): void {
    this.row.lease_owner = null;
    this.row.lease_until = null;
  }

  /** A step finished with `output`; after the last step the command has succeeded. */
  stepDone(step: string, output: unknown): void {
    this.row.outputs[step] = output ?? null;
    this.row.step_index += 1;
    this.row.paused_on = null; // a message may settle a call whose command a breaker paused
    this.events.push({ kind: 'step_done', step, data: { output: output ?? null } });
    this.move('pending');
    // Due now at the latest. A next_at already past stays as it is: an unchanged indexed column lets the
    // save update the row in place (a HOT update, no new index entries), and "due since" orders the same.
    if (this.row.next_at.getTime() > this.now.getTime()) this.row.next_at = this.now;
    if (this.row.step_index >= this.spec.steps.length) this.#succeed();
  }

  #succeed(): void {
    const def = this.spec.def;
    const last = this.spec.steps[this.spec.steps.length - 1]!.name;
    const result = def.result ? def.result(this.row.outputs, this.row.input) : this.row.outputs[last];
    this.move('succeeded');
    this.row.result = result === undefined ? null : JSON.parse(JSON.stringify(result));
    this.#finish();
    this.events.push({ kind: 'succeeded', data: { result: this.row.result } });
  }

  /** A definite failure: undo completed steps (once, later) or end as failed. */
  failDefinitely(step: string, reason: string, details?: Record<string, unknown>): void {
    this.row.error = { step, reason, ...(details ? { details } : {}) };
    this.row.paused_on = null;
    if (this.row.step_index > 0 && this.spec.def.compensate) {
      this.move('compensating');
      this.row.next_at = this.now;
      this.events.push({ kind: 'compensating', step, data: { reason, details: details ?? null } });
    } else {
      this.move('failed');
      this.#finish();
      this.events.push({ kind: 'failed', step, data: { reason, details: details ?? null } });
    }
  }

  compensated(): void {
    this.move('failed');
    this.row.error = { ...this.row.error, compensated: true };
    this.#finish();
    this.events.push({ kind: 'compensated' }, { kind: 'failed', data: this.row.error });
  }

  /** When the command's retry budget runs out: its deadline after it was recorded (or requeued). */
  get deadline(): Date {
    const from = this.row.budget_from ?? this.row.created_at;
    return new Date(from.getTime() + this.spec.deadlineMs);
  }

  /**
   * An attempt ended without a definite answer: back off (never past the deadline, so the last attempt
   * runs at it), or, once the budget is spent (the deadline, or `retry.maxAttempts` if set), flag it.
   */
  attemptFailed(kind: string, step: string | null, data: Record<string, unknown>): void {
    this.row.attempts += 1;
    this.events.push({ kind, step, data: { ...data, attempt: this.row.attempts } });
    this.release();
    const deadline = this.deadline;
    if (this.row.attempts >= this.spec.maxAttempts) {
      this.flag(
        step,
        `command ${this.spec.name} gave up after ${this.row.attempts} attempts without a definite outcome`,
        { why: 'attempts' },
      );
    } else if (this.now.getTime() >= deadline.getTime()) {
      this.flag(
        step,
        `command ${this.spec.name} reached its deadline (${this.spec.deadlineMs} ms) after ${this.row.attempts} attempts without a definite outcome`,
        { why: 'deadline', deadline },
      );
    } else {
      const delay = backoffMs(this.spec, this.row.attempts);
      const at = Math.min(this.now.getTime() + delay, deadline.getTime());
      this.row.next_at = new Date(at);
      this.events.push({
        kind: 'backoff',
        step,
        data: { delayMs: at - this.now.getTime(), nextAt: this.row.next_at },
      });
    }
  }

  /** Flags the command for a person: `needs_attention`, an event and an alert saying why. */
  flag(step: string | null, message: string, data: Record<string, unknown>): void {
    this.release();
    this.row.paused_on = null;
    this.move('needs_attention');
    this.events.push({ kind: 'needs_attention', step, data: { ...data, attempts: this.row.attempts } });
    this.alerts.push({
      kind: 'needs_attention',
      message,
      data: { step, ...data, attempts: this.row.attempts },
    });
  }

  /**
   * The step's downstream is behind an open breaker: no send, no attempt spent. The command sleeps until
   * the breaker closes (which wakes every command paused on it) or, at the latest, until its deadline.
   */
  pause(step: string, downstream: string, probeAt: Date | null): void {
    this.release();
    this.row.paused_on = downstream;
    this.row.next_at = this.deadline;
    this.events.push({ kind: 'paused', step, data: { downstream, probeAt } });
  }

  #finish(): void {
    this.row.finished_at = this.now;
    this.release();
  }

  /**
   * The save and a call's outcome in one statement: on its own it needs no transaction. For a change that
   * raised no alerts (those are rows of their own). Throws CommandMoved when the expected row is gone;
   * `settled` says whether the outcome was written (it is only when the save applied).
   */
  async saveSettling(db: Executor, o: CallOutcome): Promise<{ row: CommandRow; settled: boolean }> {
    this.#withoutAlerts('saveSettling');
    const saved = await this.#write((a) => this.store.saveSettlingCall(db, a, o));
    return { row: { ...this.row }, settled: saved.settled === 1 };
  }

  /** The save and a new call with its first send, in one statement (a change without alerts). */
  async saveInsertingCall(tx: Executor, c: NewCall): Promise<CommandRow> {
    this.#withoutAlerts('saveInsertingCall');
    const saved = await this.#write((a) => this.store.saveInsertingCall(this.#last(tx), a, c));
    if (saved.n !== 1) {
      throw new TallyError('COMMAND_NOT_FOUND', 'no command with this id', { details: { id: this.row.id } });
    }
    return { ...this.row };
  }

  async save(tx: Executor): Promise<CommandRow> {
    await this.#write((a) => this.store.save(this.#last(tx), a));
    for (const a of this.alerts) {
      await this.store.insertAlert(tx, {
        id: this.row.id,
        type: this.spec.name,
        kind: a.kind,
        message: a.message,
        data: a.data,
        at: this.now,
      });
    }
    this.alerts.length = 0;
    return { ...this.row };
  }

  /**
   * The save will be the last statement of a transaction whose row cannot have moved (this transaction
   * inserted it): where the executor can, it is sent with the COMMIT, one round trip fewer (decision 0125).
   */
  commitOnSave(tx: Executor): void {
    if (this.#expect || !tx.commitWith) return;
    const commitWith = tx.commitWith.bind(tx);
    this.#commit = { ...tx, query: (q) => commitWith(q) };
  }

  /** Where the save goes: with the COMMIT when it is the last statement (no alert rows follow it). */
  #last(tx: Executor): Executor {
    return this.#commit !== null && this.alerts.length === 0 ? this.#commit : tx;
  }

  /** Alerts are rows of their own: only save() writes them. */
  #withoutAlerts(method: string): void {
    if (this.alerts.length > 0) throw new Error(`${method}: a change with alerts is saved with save()`);
  }

  /** Runs one of the store's saves: the expected row must still be there; its events are written. */
  async #write<T extends { n: number }>(
    run: (a: { row: CommandRow; events: EventIn[]; at: Date; expect: SaveExpectation | null }) => Promise<T>,
  ): Promise<T> {
    const saved = await run({ row: this.row, events: this.events, at: this.now, expect: this.#expect });
    if (this.#expect && saved.n !== 1) throw new CommandMoved(this.row.id);
    this.events.length = 0;
    return saved;
  }
}
