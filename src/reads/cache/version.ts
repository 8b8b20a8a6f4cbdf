import { TallyError } from '../../errors.js';

/** A cache version: a row version counter or a WAL position (`Routed.version`, a token's position). */
export type CacheVersion = bigint | number;

const MAX = (1n << 64n) - 1n;

/** The 20-digit text the Lua scripts compare. Rejects anything that is not an integer in [0, 2^64). */
export function versionText(v: unknown): string {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else
    throw new TallyError('INVALID_CACHE_VERSION', 'a cache version must be a bigint or a safe integer >= 0');
  if (b < 0n || b > MAX)
    throw new TallyError('INVALID_CACHE_VERSION', 'a cache version must be in [0, 2^64)');
  return b.toString().padStart(20, '0');
}

export function parseVersionText(t: string): bigint | null {
  return /^[0-9]{20}$/.test(t) ? BigInt(t) : null;
}
