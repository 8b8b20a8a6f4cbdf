import { TallyError } from '../errors.js';
import { formatLsn, type Lsn, maxLsn } from './lsn.js';

/**
 * What a client has written: per shard (one primary and its replicas), a WAL position at or after the
 * commit of its latest write there. A read with the token may use a replica only once that replica has
 * replayed the position for the shard it reads from.
 */
export interface CausalToken {
  readonly positions: Readonly<Record<string, Lsn>>;
}

const SHARD_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/** More shards than this in one token means it was not made by Tally. */
export const MAX_TOKEN_SHARDS = 1024;

/** Validates a shard name (it travels inside tokens and shows up in metrics). */
export function checkShardName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !SHARD_NAME.test(name)) {
    throw new TallyError('INVALID_ROUTER_OPTIONS', `${what} must match ${SHARD_NAME.source}`);
  }
  return name;
}

/**
 * A token for one position on one shard.
 *
 * @example
 * const t = makeToken('db0', parseLsn('0/16B3748')!);
 */
export function makeToken(shard: string, lsn: Lsn): CausalToken {
  checkShardName(shard, 'shard');
  if (typeof lsn !== 'bigint' || lsn < 0n)
    throw new TallyError('INVALID_TOKEN', 'a token position must be a bigint >= 0');
  return Object.freeze({ positions: Object.freeze({ [shard]: lsn }) });
}

/**
 * Merges tokens: the highest position per shard wins, so a client that wrote to several shards (or got
 * tokens from several requests) can carry one token. Null and undefined are ignored; all absent gives null.
 *
 * @example
 * const t = mergeTokens(cookieToken, writeResult.token); // send t back to the client
 */
export function mergeTokens(...tokens: (CausalToken | null | undefined)[]): CausalToken | null {
  const out: Record<string, Lsn> = {};
  let any = false;
  for (const t of tokens) {
    if (!t) continue;
    if (typeof t !== 'object' || typeof t.positions !== 'object' || t.positions === null) {
      throw new TallyError('INVALID_TOKEN', 'mergeTokens takes causal tokens (or null)');
    }
    for (const [shard, lsn] of Object.entries(t.positions)) {
      out[shard] = maxLsn(out[shard] ?? null, lsn)!;
      any = true;
    }
  }
  if (Object.keys(out).length > MAX_TOKEN_SHARDS) {
    throw new TallyError('INVALID_TOKEN', `a token holds at most ${MAX_TOKEN_SHARDS} shards`);
  }
  return any ? Object.freeze({ positions: Object.freeze(out) }) : null;
}

/**
 * The position a token asks for on one shard, or null when it has none (any healthy replica will do).
 *
 * @example
 * tokenPosition(token, 'db0') // 23803720n
 */
export function tokenPosition(token: CausalToken | null | undefined, shard: string): Lsn | null {
  if (!token) return null;
  return token.positions[shard] ?? null;
}

/**
 * A readable form for logs and tests.
 *
 * @example
 * describeToken(makeToken('db0', 23803720n)) // { db0: '0/16B3748' }
 */
export function describeToken(token: CausalToken | null): Record<string, string> | null {
  if (!token) return null;
  return Object.fromEntries(Object.entries(token.positions).map(([s, l]) => [s, formatLsn(l)]));
}
