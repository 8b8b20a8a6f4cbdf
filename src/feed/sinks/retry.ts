import { TallyError } from '../../errors.js';

/** How a sink waits between attempts: exponential from `initialMs`, capped at `maxMs`, with jitter. */
export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
}

export interface RetryOptions extends BackoffOptions {
  /** Which failures are worth another attempt (the target is away); the rest are thrown at once. */
  readonly retryable: (err: unknown) => boolean;
  /** Stops the waiting: the pending call rejects with the last error. */
  readonly signal?: AbortSignal;
  /** Told about every failed attempt that will be retried. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Injected randomness for the jitter (tests replay schedules with it). */
  readonly random?: () => number;
}

function checkMs(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 3_600_000) {
    throw new TallyError('INVALID_SINK_OPTIONS', `${name} must be an integer from 1 to 3600000 (ms)`);
  }
  return v;
}

/** Validated backoff bounds. */
export function backoffBounds(o: BackoffOptions | undefined): { initialMs: number; maxMs: number } {
  const initialMs = checkMs(o?.initialMs, 'retry.initialMs', 100);
  const maxMs = checkMs(o?.maxMs, 'retry.maxMs', 10_000);
  if (maxMs < initialMs)
    throw new TallyError('INVALID_SINK_OPTIONS', 'retry.maxMs must be >= retry.initialMs');
  return { initialMs, maxMs };
}

/** The delay before attempt `attempt + 1`: "full jitter" over an exponential ceiling. */
export function delayFor(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  // Half fixed, half random: never a hot loop, and restarted sinks do not retry in lockstep.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Runs `fn` until it succeeds, waiting with backoff after each retryable failure; a failure that is
 * not retryable, or an abort, rejects with that error.
 *
 * @example
 * await withRetry(() => target.transaction(write), { retryable: isUnreachable, maxMs: 5000 });
 */
export async function withRetry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const { initialMs, maxMs } = backoffBounds(o);
  const random = o.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!o.retryable(err) || o.signal?.aborted) throw err;
      const ms = delayFor(attempt, initialMs, maxMs, random);
      o.onRetry?.(err, attempt, ms);
      const aborted = await sleep(ms, o.signal);
      if (aborted) throw err;
    }
  }
}

/** Resolves true when the signal aborted the wait. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(true);
    const onAbort = () => {
      clearTimeout(t);
      resolve(true);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
