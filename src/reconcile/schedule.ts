import { TallyError } from '../errors.js';
import type { ReconcileReport } from './types.js';

export interface Schedule {
  /** Stops the schedule; resolves when a run in progress has finished. */
  stop(): Promise<void>;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `every` as milliseconds: a number, or text like '30s', '15m', '24h', '1d'. */
export function parseEvery(every: number | string): number {
  const m = typeof every === 'string' ? /^(\d{1,9})(ms|s|m|h|d)$/.exec(every.trim()) : null;
  const ms = typeof every === 'number' ? every : m ? Number(m[1]) * UNITS[m[2]!]! : Number.NaN;
  if (!Number.isInteger(ms) || ms < 10 || ms > 366 * 86_400_000) {
    throw new TallyError(
      'INVALID_RECONCILE_OPTIONS',
      "every must be a duration like 86400000, '30s', '15m', '24h' or '1d'",
    );
  }
  return ms;
}

/**
 * Offline mode: runs `check` now and then every `every` (a run never overlaps the next: the pause starts
 * when a run ends), handing each report to `onReport` and each failure to `onError`.
 *
 * @example
 * const daily = every('24h', () => reconcile([resources]), (r) => { if (!r.ok) alert(formatReport(r)); });
 * // on shutdown: await daily.stop();
 */
export function every(
  interval: number | string,
  check: () => Promise<ReconcileReport>,
  onReport: (report: ReconcileReport) => unknown,
  onError: (err: unknown) => unknown = () => {},
): Schedule {
  const ms = parseEvery(interval);
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    timer = null;
    running = (async () => {
      try {
        await onReport(await check());
      } catch (err) {
        // A failing error handler must not end the schedule (nor become an unhandled rejection).
        await Promise.resolve()
          .then(() => onError(err))
          .catch(() => {});
      }
    })().finally(() => {
      if (!stopped) timer = setTimeout(tick, ms);
    });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
