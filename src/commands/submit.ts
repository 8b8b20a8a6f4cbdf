import { TallyError } from '../errors.js';
import { knownProbeAt } from './breaker.js';
import { asStored, checkIdempotencyKey, checkPrincipal, fingerprintOf } from './canonical.js';
import { submitChange } from './change-submit.js';
import type { CommandRuntime } from './context.js';
import { submitWithFailover } from './failover-submit.js';
import { checkInputDepth } from './input-limits.js';
import { checkInput } from './input-schema.js';
import { observedSubmit } from './observe-hooks.js';
import type { CommandResult } from './result.js';
import { type Prepared, submitPrimary } from './submit-primary.js';

export interface SubmitInput<I> {
  /** The idempotency key the head of the chain created. */
  key: string;
  /** Who owns the key (the authenticated user or client). Keys are scoped by it. */
  principal: string;
  input: I;
}

/**
 * Records the command (key, fingerprint, input snapshot) before anything else, then drives it; a
 * retry with the same key returns the recorded outcome or continues from the recorded state. With a
 * failover store, an unreachable primary sends new commands there (see failover-submit.ts).
 */
export async function submit<I>(rt: CommandRuntime, args: SubmitInput<I>): Promise<CommandResult> {
  const o = rt.config.observer;
  return o.on ? observedSubmit(o, rt.spec.name, () => submitOnce(rt, args)) : submitOnce(rt, args);
}

async function submitOnce<I>(rt: CommandRuntime, args: SubmitInput<I>): Promise<CommandResult> {
  const p = await prepare(rt, args);
  const f = rt.spec.failover;
  const change = rt.spec.change;
  const r = await (f
    ? submitWithFailover(rt, f, p)
    : change
      ? submitChange(rt, change, p, () => submitPrimary(rt, p))
      : submitPrimary(rt, p));
  return withRetryAfter(rt, r);
}

/**
 * Checks a submit's arguments before anything is recorded: key, principal, the input's depth (before
 * anything walks it), then the input against the command's schema (refused: INVALID_COMMAND_INPUT), and the
 * key parameters against the command's limits. The schema's output is what is fingerprinted and stored.
 */
async function prepare<I>(rt: CommandRuntime, args: SubmitInput<I>): Promise<Prepared> {
  const { spec } = rt;
  const key = checkIdempotencyKey(args?.key);
  const principal = checkPrincipal(args?.principal);
  checkInputDepth(spec.name, args?.input, spec.limits.depth);
  const given = spec.input ? await checkInput(spec.name, spec.input, args?.input) : args?.input;
  const input = asStored(given, 'input');
  const limits = spec.limits;
  const { fingerprint, canonical } = fingerprintOf(paramsOf(spec.name, spec.def.fingerprint, given), limits);
  // What runs later is the stored input: its key parameters must be the ones fingerprinted now.
  if (fingerprintOf(paramsOf(spec.name, spec.def.fingerprint, input), limits).fingerprint !== fingerprint) {
    throw new TallyError(
      'INVALID_COMMAND_INPUT',
      `command ${spec.name}: the key parameters change when stored as JSON (NaN, Infinity, a class instance?)`,
    );
  }
  return { key, principal, input, fingerprint, canonical };
}

function paramsOf<I>(name: string, fingerprint: (input: I) => unknown, input: unknown): unknown {
  try {
    return fingerprint(input as I);
  } catch (err) {
    throw new TallyError('INVALID_COMMAND_INPUT', `command ${name}: fingerprint(input) threw`, {
      cause: err,
    });
  }
}

/**
 * Sets `retryAfterMs` on a result that is still open: the time until its next scheduled attempt (for a
 * command paused behind a breaker, until the breaker's next probe).
 */
function withRetryAfter(rt: CommandRuntime, r: CommandResult): CommandResult {
  if (r.nextAttemptAt === null) return r;
  // A paused command's own next_at is its deadline: the breaker's next probe is the useful time.
  const at = r.pausedOn ? knownProbeAt(rt.config, r.pausedOn) : r.nextAttemptAt;
  if (at === null) return r;
  return { ...r, retryAfterMs: Math.max(0, at.getTime() - rt.config.clock().getTime()) };
}
