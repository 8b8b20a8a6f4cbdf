import { AsyncLocalStorage } from 'node:async_hooks';
import { TallyError } from './errors.js';

/** Who is changing what, from where and why. Recorded on every log row. */
export interface ChangeContext {
  /** Who did it: a user id, a service name. Required for every change. */
  actor?: string;
  /** Where the request came from (client IP). */
  ip?: string;
  /** The request or trace id the change belongs to. */
  requestId?: string;
  /** The once-only command the change belongs to. */
  commandId?: string;
  /** Why: free text for the operator reading the log. */
  reason?: string;
}

export interface ResolvedContext {
  actor: string;
  ip: string | null;
  requestId: string | null;
  commandId: string | null;
  reason: string | null;
}

const scope = new AsyncLocalStorage<ChangeContext>();

/**
 * Runs `fn` with a change context that every Tally change inside it (across awaits) picks up.
 * Nested scopes merge: inner fields win.
 *
 * @example
 * await withContext({ actor: 'ops:alice', ip: req.ip, requestId: req.id }, () =>
 *   resources.transition({ keys: [1, 2], to: 'frozen' }));
 */
export function withContext<T>(ctx: ChangeContext, fn: () => T): T {
  return scope.run({ ...scope.getStore(), ...definedOnly(ctx) }, fn);
}

/** The context of the current async scope (empty outside any scope). */
export function currentContext(): ChangeContext {
  return { ...scope.getStore() };
}

const LIMITS: Record<keyof ChangeContext, number> = {
  actor: 200,
  ip: 64,
  requestId: 200,
  commandId: 200,
  reason: 2000,
};

/** Merges an explicit context over the async scope, validates it, and requires an actor. */
export function resolveContext(explicit: ChangeContext | undefined): ResolvedContext {
  const merged: ChangeContext = { ...scope.getStore(), ...definedOnly(explicit ?? {}) };
  for (const [field, max] of Object.entries(LIMITS) as [keyof ChangeContext, number][]) {
    const v = merged[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v.length > max) {
      throw new TallyError(
        'INVALID_CONTEXT',
        `context.${field} must be a string of at most ${max} characters`,
      );
    }
  }
  if (!merged.actor || merged.actor.trim() === '') {
    throw new TallyError(
      'MISSING_ACTOR',
      'a change needs an actor: pass { actor } or run it inside withContext({ actor }, ...)',
    );
  }
  return {
    actor: merged.actor,
    ip: merged.ip ?? null,
    requestId: merged.requestId ?? null,
    commandId: merged.commandId ?? null,
    reason: merged.reason ?? null,
  };
}

function definedOnly(ctx: ChangeContext): ChangeContext {
  const out: ChangeContext = {};
  for (const [k, v] of Object.entries(ctx)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
