import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TallyError } from '../../errors.js';
import { ConsoleError } from './problem.js';

/**
 * How many expensive reads a caller may make per window (decision 0148). `reads`: the list, search and
 * filter routes (commands, entities and their history, jobs, alerts, the overview); `checks`: the
 * reconcile dry runs, each a scan of a whole table or range. `false` turns the limit off.
 */
export interface RateLimitOptions {
  /** The window's length. Default 60,000 ms. */
  windowMs?: number;
  /** Expensive reads per window and caller. Default 300 (the console's own polling stays far below). */
  reads?: number;
  /** Reconcile checks per window and caller. Default 10. */
  checks?: number;
}

export type RouteCost = 'read' | 'check';

export interface RateLimit {
  readonly windowMs: number;
  readonly reads: number;
  readonly checks: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = Object.freeze({ windowMs: 60_000, reads: 300, checks: 10 });

/** Checks the option (INVALID_CONFIG) and fills its defaults; null when it is off. */
export function rateLimitConfig(o: RateLimitOptions | false | undefined): RateLimit | null {
  if (o === false) return null;
  if (o === undefined) return DEFAULT_RATE_LIMIT;
  if (!o || typeof o !== 'object') {
    throw new TallyError('INVALID_CONFIG', 'rateLimit must be { windowMs, reads, checks } or false');
  }
  const n = (v: unknown, name: string, fallback: number, max: number) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw new TallyError('INVALID_CONFIG', `rateLimit.${name} must be an integer from 1 to ${max}`);
    }
    return v;
  };
  return Object.freeze({
    windowMs: n(o.windowMs, 'windowMs', DEFAULT_RATE_LIMIT.windowMs, 86_400_000),
    reads: n(o.reads, 'reads', DEFAULT_RATE_LIMIT.reads, 1_000_000),
    checks: n(o.checks, 'checks', DEFAULT_RATE_LIMIT.checks, 1_000_000),
  });
}

/**
 * Who is counted: the bearer token (its SHA-256, so the table holds no token), or `local` on a server
 * without tokens (loopback only: the person at the machine).
 */
export function callerOf(req: IncomingMessage, tokens: boolean): string {
  if (!tokens) return 'local';
  const m = /^Bearer ([^\s]{1,512})$/i.exec(req.headers.authorization ?? '');
  return createHash('sha256')
    .update(m?.[1] ?? '')
    .digest('base64url');
}

/**
 * A fixed window per caller and cost, in memory: one process's count (several servers behind one proxy
 * each count their own). A caller over the limit gets RATE_LIMITED (429) with the seconds until its
 * window ends (`Retry-After`). Only callers that passed authentication are counted.
 */
export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #clock: () => number;
  readonly #windows = new Map<string, { start: number; used: number }>();

  constructor(limit: RateLimit, clock: () => number = Date.now) {
    this.#limit = limit;
    this.#clock = clock;
  }

  /** Counts one request of `cost` by `caller`, or throws RATE_LIMITED. */
  take(caller: string, cost: RouteCost): void {
    const now = this.#clock();
    const key = `${cost}:${caller}`;
    let w = this.#windows.get(key);
    if (!w || now - w.start >= this.#limit.windowMs) {
      if (this.#windows.size > 10_000) this.#sweep(now);
      w = { start: now, used: 0 };
      this.#windows.set(key, w);
    }
    const max = cost === 'check' ? this.#limit.checks : this.#limit.reads;
    if (w.used >= max) {
      const retryAfter = Math.max(1, Math.ceil((w.start + this.#limit.windowMs - now) / 1000));
      throw new ConsoleError(
        'RATE_LIMITED',
        `too many ${cost === 'check' ? 'reconcile checks' : 'list and search requests'} with this token: at most ${max} in ${this.#limit.windowMs / 1000} s`,
        { retryAfter, limit: max, windowSeconds: this.#limit.windowMs / 1000 },
      );
    }
    w.used++;
  }

  #sweep(now: number): void {
    for (const [k, w] of this.#windows) if (now - w.start >= this.#limit.windowMs) this.#windows.delete(k);
  }
}
