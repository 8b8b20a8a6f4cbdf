import { TallyError } from '../errors.js';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MIN_MS = 1000;
const MAX_MS = 10 * 365 * 86_400_000;

/**
 * A command's `keyRetention` (decision 0061): how long after a command finished its record — and so its
 * idempotency key — is kept. Milliseconds or '90s', '12h', '30d'; `undefined` or `false` keeps the record
 * forever (the default: nothing is deleted unless a command type asks for it). Returns ms or null.
 *
 * @example
 * keyRetentionMs('redeem', '30d'); // 2_592_000_000
 */
export function keyRetentionMs(name: string, value: unknown): number | null {
  if (value === undefined || value === false) return null;
  let ms: number | null = null;
  if (typeof value === 'number' && Number.isInteger(value)) ms = value;
  const m = typeof value === 'string' ? /^(\d{1,9})(ms|s|m|h|d)$/.exec(value) : null;
  if (m) ms = Number(m[1]) * UNITS[m[2] as keyof typeof UNITS];
  if (ms === null || ms < MIN_MS || ms > MAX_MS) {
    throw new TallyError(
      'INVALID_COMMAND',
      `command ${name}: keyRetention must be false or from 1s to 3650d (ms, or like '12h', '30d')`,
    );
  }
  return ms;
}
