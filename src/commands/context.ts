import type { TallyConfig } from '../config.js';
import { withContext } from '../context.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { asStored } from './canonical.js';
import type { CommandFailure, CommandSpec, StepContext } from './definition.js';
import type { Draft } from './machine.js';

/** How a command type runs: Tally's config and the validated declaration. */
export interface CommandRuntime {
  readonly config: TallyConfig;
  readonly spec: CommandSpec;
}

/** Thrown by `ctx.fail(...)`: a definite, business failure of the step (not a transient error). */
export class StepFailure extends Error {
  constructor(
    readonly reason: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(`step failed: ${reason}`);
  }
}

const DECISION_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The context a step runs with. Decisions land on the draft, so they survive a failing step's rollback. */
export function stepContext(tx: Executor, d: Draft, step: string): StepContext {
  const row = d.row;
  return {
    id: row.id,
    type: row.type,
    key: row.key,
    principal: row.principal,
    input: row.input,
    tx,
    write: { tx, commandId: row.id, actor: row.principal, requestId: row.key },
    now: d.now,
    decisions: row.decisions,
    outputs: row.outputs,
    failure: (row.error as CommandFailure | null) ?? null,
    async decide<T>(name: string, check: () => T | Promise<T>): Promise<T> {
      if (typeof name !== 'string' || !DECISION_RE.test(name)) {
        throw new TallyError('INVALID_COMMAND', `decision names must match ${DECISION_RE.source}`);
      }
      if (Object.hasOwn(row.decisions, name)) {
        d.events.push({ kind: 'decision_replayed', step, data: { name } });
        return row.decisions[name] as T;
      }
      const value = asStored(await check(), `decision ${name}`);
      row.decisions[name] = value;
      d.events.push({ kind: 'decision', step, data: { name, value } });
      return value;
    },
    fail(reason: string, details?: Record<string, unknown>): never {
      if (typeof reason !== 'string' || reason.length === 0 || reason.length > 200) {
        throw new TallyError('INVALID_COMMAND', 'ctx.fail(reason) needs a reason of 1-200 characters');
      }
      throw new StepFailure(reason, details === undefined ? undefined : asStored(details, 'failure details'));
    },
  };
}

/** Runs user step code with the command as the change context of every audited write inside it. */
export function inCommandScope<T>(ctx: StepContext, fn: () => T): T {
  return withContext({ commandId: ctx.id, actor: ctx.principal, requestId: ctx.key }, fn);
}

/** A parameter-free description of a transient error for the timeline. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof TallyError)
    return { name: err.name, code: err.code, message: err.message.slice(0, 500) };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: err.message.slice(0, 500),
    };
  }
  return { name: typeof err };
}
