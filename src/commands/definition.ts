import { TallyError } from '../errors.js';
import type { InputLimits } from './canonical.js';
import { type ChangeCommandDefinition, type CompiledChange, changeStep, compileChange } from './change.js';
import { type FailoverOptions, type ResolvedFailover, resolveFailover } from './failover.js';
import { type InputLimitsOptions, resolveInputLimits } from './input-limits.js';
import { type InputSchema, type InputValidator, resolveInputSchema } from './input-schema.js';
import { keyRetentionMs } from './retention-option.js';
import type { StepContext } from './step-types.js';

export type { CommandFailure, StepContext } from './step-types.js';

/** What a downstream answer means. Only `success` and `failure` end a call; `unknown` is a state. */
export type Outcome<V = unknown> =
  | { outcome: 'success'; value?: V }
  | { outcome: 'failure'; reason: string; details?: Record<string, unknown> }
  | {
      outcome: 'unknown';
      reason?: string;
      /** The downstream could not be reached at all (counts toward its breaker, like a refused connection). */
      unreachable?: boolean;
    };

/** A downstream's answer to "what happened to the request with this key?". */
export type QueryAnswer<V = unknown> =
  | { outcome: 'success'; value?: V }
  | { outcome: 'failure'; reason: string; details?: Record<string, unknown> }
  | { outcome: 'not_found' };

/** What `send` produced: its value, or what it threw. */
export type Reply<R = unknown> = { ok: true; value: R } | { ok: false; error: unknown };

/** A step that changes local state in one transaction holding the command's row lock. */
export interface LocalStep<I = any> {
  name: string;
  run(ctx: StepContext<I>): unknown;
}

/** A step that calls a party we do not own. */
export interface CallStep<I = any> {
  name: string;
  call: CallSpec<I>;
}

/** What `send` is told beside the stored request. */
export interface SendMeta {
  /** The downstream key (one per command and step): send it as the downstream's idempotency key. */
  key: string;
  /** 1 for the first send, then 2, 3, ... */
  attempt: number;
  /**
   * With tracing on (`observe.tracing`): the W3C traceparent of this send's span, to put on the request as
   * the `traceparent` header so the downstream's spans join the trace (decision 0140). Absent when off.
   */
  traceparent?: string;
}

export interface CallSpec<I = any, Req = any, Res = any> {
  /** Builds the exact request (timestamps and nonces included). Runs once; the result is stored and re-sent. */
  request(ctx: StepContext<I>): Req | Promise<Req>;
  /** Sends the stored request. `key` is derived 1:1 from the command; pass it as the downstream's idempotency key. */
  send(request: Req, meta: SendMeta): Promise<Res>;
  /** Maps a reply (or what send threw) to an outcome. Default: a value is success (or the Outcome it is), a throw is unknown. */
  classify?(reply: Reply<Res>): Outcome;
  /** Asks the downstream what became of the request with `key`. A throw is unknown. */
  query?(key: string, request: Req): Promise<QueryAnswer>;
  /** Never query before this long after the first send (ms or '500ms' / '5s' / '2m'). Default 5 s. */
  queryAfter?: number | string;
  /** Re-send the stored request while the outcome is unknown. Default true (the downstream dedupes by key). */
  resend?: boolean;
  /**
   * The downstream's name: calls of every command type that name the same downstream share one breaker.
   * Default `<command>.<step>`.
   */
  downstream?: string;
  /**
   * The breaker for this downstream (decision 0027): after `after` consecutive calls that could not reach
   * it (connection refused, no route, DNS failure, connect timeout — found in what `send` or `query`
   * threw and its causes; or an `unknown` outcome with `unreachable: true`), sends stop for every command,
   * one probe goes out every `probeEvery` (doubling up to `maxProbeEvery`), and every paused command
   * resumes when a probe reaches it. Paused commands spend no attempts. A reset connection does not count:
   * the request may have arrived. Default `{ after: 5, probeEvery: '5s', maxProbeEvery: '30s' }`;
   * `false` turns it off.
   */
  breaker?: false | { after?: number; probeEvery?: number | string; maxProbeEvery?: number | string };
}

export interface RetryPolicy {
  /**
   * Attempts (each unknown outcome or transient error is one) before `needs_attention`. Default: no limit
   * by count; the command's `deadline` is its budget.
   */
  maxAttempts?: number;
  /** First backoff. Default 1 s; doubles per attempt up to `maxMs` (default 5 min). */
  baseMs?: number;
  maxMs?: number;
  /** Injected randomness for jitter, in [0, 1). Default Math.random. */
  random?: () => number;
}

export interface CommandDefinition<I = any> {
  /**
   * The input's schema: a Standard Schema validator (zod, valibot, arktype; the input type is inferred from
   * it) or a JSON Schema (docs/commands.md). A submit whose input fails it is refused with
   * INVALID_COMMAND_INPUT and nothing is recorded; its output is what is fingerprinted, stored and run.
   */
  input?: InputSchema<I>;
  /** The key parameters: a retry whose key parameters differ from the first request's is rejected. */
  fingerprint(input: I): unknown;
  /**
   * How deep the input and the key parameters may nest (`depth`, levels of objects and arrays) and how
   * long the key parameters' canonical text may be (`size`, UTF-8 bytes). Beyond either, a submit is
   * refused with INVALID_COMMAND_INPUT (`details.limit`) and nothing is recorded (docs/decisions/0029).
   * Default `{ depth: 64, size: 65536 }`.
   */
  limits?: InputLimitsOptions;
  /** Local steps and downstream calls, run in order. The command's states follow from them. */
  steps: readonly (LocalStep<I> | CallStep<I>)[];
  /** Runs exactly once, in one transaction, when a definite failure follows completed steps. */
  compensate?(ctx: StepContext<I>): unknown;
  /** The command's result from the step outputs. Default: the last step's output. */
  result?(outputs: Record<string, unknown>, input: I): unknown;
  retry?: RetryPolicy;
  /**
   * The retry budget as a time (ms or '30m' / '24h'): an attempt that fails once this long has passed since
   * the command was recorded (or requeued) flags it `needs_attention` with an alert; backoff never schedules
   * an attempt past it. Default '24h' — long enough for a real outage.
   */
  deadline?: number | string;
  /** How long one attempt may hold the command before another may take over. Default 30 s. */
  leaseMs?: number;
  /** How long `submit` waits for an in-flight attempt before COMMAND_IN_FLIGHT. Default 0 (no wait). */
  waitMs?: number;
  /**
   * A secondary store for this command's records while the primary database is unreachable: new
   * commands are recorded there (and run nothing) until they are handed over to the primary.
   */
  failover?: FailoverOptions;
  /**
   * How long a finished command's record — its idempotency key and recorded outcome — is kept (ms or
   * '12h' / '30d'). Until a prune removes it, a retry is answered with the recorded outcome, expired or
   * not; after, the key is free again (docs/retention.md, decision 0061). Default: kept forever.
   */
  keyRetention?: number | string | false;
}

export type ResolvedStep<I> =
  | { kind: 'local'; index: number; name: string; run: LocalStep<I>['run'] }
  | {
      kind: 'call';
      index: number;
      name: string;
      call: CallSpec<I>;
      queryAfterMs: number;
      resend: boolean;
      /** The downstream's name (its breaker's key). */
      downstream: string;
      breaker: BreakerPolicy | null;
    };

/** A call step's breaker, resolved. */
export interface BreakerPolicy {
  readonly after: number;
  readonly probeMs: number;
  readonly maxProbeMs: number;
}

export interface CommandSpec<I = any> {
  readonly name: string;
  readonly def: CommandDefinition<I>;
  readonly steps: readonly ResolvedStep<I>[];
  /** Infinity unless `retry.maxAttempts` is set. */
  readonly maxAttempts: number;
  readonly deadlineMs: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly random: () => number;
  readonly leaseMs: number;
  readonly waitMs: number;
  readonly failover: ResolvedFailover | null;
  /** A change command's declaration (its one step is that change): submit runs it as one statement. */
  readonly change: CompiledChange<I> | null;
  /** The input check (from `input`), run by submit before anything is recorded; null without a schema. */
  readonly input: InputValidator | null;
  /** The limits on the input's depth and the key parameters' depth and size (from `limits`). */
  readonly limits: InputLimits;
  /** From `keyRetention`: ms a finished command's record is kept; null keeps it forever. */
  readonly keyRetentionMs: number | null;
}

const NAME_RE = /^[a-z][a-z0-9_.-]{0,62}$/;

function bad(name: string, what: string): TallyError {
  return new TallyError('INVALID_COMMAND', `command ${name}: ${what}`);
}

/** Parses '250ms', '5s', '2m', '1h' or a number of milliseconds. */
export function durationMs(value: number | string, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const m = typeof value === 'string' ? /^(\d+)(ms|s|m|h)$/.exec(value) : null;
  if (!m) throw new TallyError('INVALID_COMMAND', `${what} must be milliseconds or like '500ms', '5s', '2m'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

function int(v: unknown, name: string, what: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(name, `${what} must be an integer from ${min} to ${max}`);
  }
  return v;
}

/** Validates a declaration once, at `tally.command(...)`. */
export function defineCommand<I>(
  name: unknown,
  declared: CommandDefinition<I> | ChangeCommandDefinition<I>,
): CommandSpec<I> {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new TallyError('INVALID_COMMAND', `command name must match ${NAME_RE.source}`);
  }
  if (!declared || typeof declared !== 'object') throw bad(name, 'a definition is required');
  let change: CompiledChange<I> | null = null;
  let def = declared as CommandDefinition<I>;
  if ('change' in declared && declared.change !== undefined) {
    // A change command is a command with one local step, that change: every reader sees it as such.
    for (const f of ['steps', 'compensate', 'result'] as const) {
      if (f in declared) throw bad(name, `a change command has no ${f} (its one step is the change)`);
    }
    change = compileChange(name, declared.change, (declared as ChangeCommandDefinition<I>).batch);
    def = { ...declared, steps: [changeStep(name, change)] } as CommandDefinition<I>;
  }
  if (typeof def.fingerprint !== 'function') throw bad(name, 'fingerprint(input) must be a function');
  if (!Array.isArray(def.steps) || def.steps.length === 0) throw bad(name, 'steps must be a non-empty array');
  for (const f of ['compensate', 'result'] as const) {
    if (def[f] !== undefined && typeof def[f] !== 'function') throw bad(name, `${f} must be a function`);
  }
  const seen = new Set<string>();
  const steps = def.steps.map((step, index): ResolvedStep<I> => {
    const s = step as Partial<LocalStep<I> & CallStep<I>>;
    if (!s || typeof s.name !== 'string' || !NAME_RE.test(s.name) || seen.has(s.name)) {
      throw bad(name, `step ${index} needs a unique name matching ${NAME_RE.source}`);
    }
    seen.add(s.name);
    if (typeof s.run === 'function' && s.call === undefined)
      return { kind: 'local', index, name: s.name, run: s.run };
    const c = s.call;
    if (!c || typeof c.request !== 'function' || typeof c.send !== 'function' || s.run !== undefined) {
      throw bad(name, `step ${s.name} must have either run(ctx) or call: { request, send }`);
    }
    for (const f of ['classify', 'query'] as const) {
      if (c[f] !== undefined && typeof c[f] !== 'function')
        throw bad(name, `step ${s.name}: ${f} must be a function`);
    }
    if (c.resend !== undefined && typeof c.resend !== 'boolean')
      throw bad(name, `step ${s.name}: resend must be a boolean`);
    const queryAfterMs = durationMs(c.queryAfter ?? 5000, `command ${name}: step ${s.name}: queryAfter`);
    const downstream = c.downstream ?? `${name}.${s.name}`;
    if (typeof downstream !== 'string' || !NAME_RE.test(downstream)) {
      throw bad(name, `step ${s.name}: downstream must match ${NAME_RE.source}`);
    }
    const breaker = breakerOf(name, s.name, c.breaker);
    return {
      kind: 'call',
      index,
      name: s.name,
      call: c,
      queryAfterMs,
      resend: c.resend ?? true,
      downstream,
      breaker,
    };
  });
  const r = def.retry ?? {};
  if (r.random !== undefined && typeof r.random !== 'function')
    throw bad(name, 'retry.random must be a function');
  return Object.freeze({
    name,
    def,
    steps,
    maxAttempts: int(r.maxAttempts, name, 'retry.maxAttempts', Number.POSITIVE_INFINITY, 1, 1_000_000),
    deadlineMs: deadlineOf(name, def.deadline),
    baseMs: int(r.baseMs, name, 'retry.baseMs', 1000, 1, 86_400_000),
    maxMs: int(r.maxMs, name, 'retry.maxMs', 300_000, 1, 7 * 86_400_000),
    random: r.random ?? Math.random,
    leaseMs: int(def.leaseMs, name, 'leaseMs', 30_000, 100, 86_400_000),
    waitMs: int(def.waitMs, name, 'waitMs', 0, 0, 600_000),
    failover: resolveFailover(name, def.failover),
    input: resolveInputSchema(name, def.input),
    limits: resolveInputLimits(name, def.limits),
    keyRetentionMs: keyRetentionMs(name, def.keyRetention),
    change,
  });
}

function deadlineOf(name: string, v: unknown): number {
  const ms = durationMs((v ?? '24h') as number | string, `command ${name}: deadline`);
  if (ms < 1000 || ms > 365 * 86_400_000) throw bad(name, 'deadline must be from 1s to 365 days');
  return ms;
}

function breakerOf(name: string, step: string, v: CallSpec['breaker']): BreakerPolicy | null {
  if (v === false) return null;
  if (v !== undefined && (v === null || typeof v !== 'object')) {
    throw bad(name, `step ${step}: breaker must be false or { after, probeEvery, maxProbeEvery }`);
  }
  const o = v ?? {};
  const after = int(o.after, name, `step ${step}: breaker.after`, 5, 1, 10_000);
  const probeMs = durationMs(o.probeEvery ?? 5000, `command ${name}: step ${step}: breaker.probeEvery`);
  const maxProbeMs = durationMs(
    o.maxProbeEvery ?? Math.max(30_000, probeMs),
    `command ${name}: step ${step}: breaker.maxProbeEvery`,
  );
  if (probeMs < 1 || maxProbeMs < probeMs) {
    throw bad(name, `step ${step}: breaker.probeEvery must be at least 1ms and at most maxProbeEvery`);
  }
  return Object.freeze({ after, probeMs, maxProbeMs });
}

/**
 * Exponential backoff with jitter: base × 2^(attempt−1), capped, then scaled into [½, 1) of that by the
 * injected randomness (so retries of many commands spread out, and tests replay exact schedules).
 */
export function backoffMs(spec: CommandSpec, attempt: number): number {
  const exp = Math.min(spec.maxMs, spec.baseMs * 2 ** Math.max(0, attempt - 1));
  const r = Math.min(Math.max(spec.random(), 0), 1);
  return Math.max(1, Math.round(exp * (0.5 + r / 2)));
}
