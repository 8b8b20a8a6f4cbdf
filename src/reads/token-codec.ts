import { createHmac, timingSafeEqual } from 'node:crypto';
import { TallyError } from '../errors.js';
import { formatLsn, parseLsn } from './lsn.js';
import { type CausalToken, MAX_TOKEN_SHARDS, mergeTokens } from './token.js';

export interface TokenCodecOptions {
  /**
   * HMAC-SHA256 key(s), at least 32 bytes each. The first signs; all verify, so a key can be rotated by
   * putting the new one first and dropping the old one after `ttlMs`.
   */
  secret: string | Buffer | readonly (string | Buffer)[];
  /** How long an encoded token is honoured. Default 5 minutes. */
  ttlMs?: number;
  /** Injected time source in ms (tests replay expiry with it). Default `Date.now`. */
  clock?: () => number;
}

/** Why `decode` returned no token. Only `ok` carries one; every other status means "read as if absent". */
export type TokenStatus = 'ok' | 'absent' | 'malformed' | 'tampered' | 'expired';

export interface TokenCodec {
  /** A string safe for an HTTP header, a cookie value or a JSON job payload. */
  encode(token: CausalToken): string;
  /** Never throws: a bad, forged or expired token is simply not a token (the safe path). */
  decode(text: unknown): { token: CausalToken | null; status: TokenStatus };
}

const PREFIX = 'v1.';
const MAX_TEXT = 16_384;
const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Signs causal tokens so clients can carry them (header, cookie, job payload) without being able to
 * forge positions. A tampered or expired token decodes as absent: the read then takes the safe path
 * (a replica with no freshness demand is only used for clients that have not written recently).
 *
 * @example
 * const codec = createTokenCodec({ secret: process.env.TALLY_TOKEN_SECRET! });
 * res.setHeader('Tally-Token', codec.encode(result.token));
 * const { token } = codec.decode(req.headers['tally-token']); // null when absent, forged or expired
 */
export function createTokenCodec(options: TokenCodecOptions): TokenCodec {
  const keys = resolveKeys(options?.secret);
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > 30 * 86_400_000) {
    throw new TallyError('INVALID_CONFIG', 'ttlMs must be an integer from 1 to 2592000000 (30 days)');
  }
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw new TallyError('INVALID_CONFIG', 'clock must be a function returning epoch milliseconds');
  }
  const clock = options.clock ?? Date.now;
  const sign = (body: string, key: Buffer) =>
    createHmac('sha256', key)
      .update(PREFIX + body)
      .digest();

  return Object.freeze({
    encode(token: CausalToken): string {
      const merged = mergeTokens(token);
      if (!merged) throw new TallyError('INVALID_TOKEN', 'encode needs a causal token');
      const p = Object.fromEntries(Object.entries(merged.positions).map(([s, l]) => [s, formatLsn(l)]));
      const body = Buffer.from(JSON.stringify({ p, x: clock() + ttlMs })).toString('base64url');
      return `${PREFIX}${body}.${sign(body, keys[0]!).toString('base64url')}`;
    },
    decode(text: unknown) {
      if (text === undefined || text === null || text === '')
        return { token: null, status: 'absent' as const };
      if (typeof text !== 'string' || text.length > MAX_TEXT || !text.startsWith(PREFIX))
        return bad('malformed');
      const [body, mac, extra] = text.slice(PREFIX.length).split('.');
      if (!body || !mac || extra !== undefined || !B64URL.test(body) || !B64URL.test(mac))
        return bad('malformed');
      const given = Buffer.from(mac, 'base64url');
      const genuine = keys.some((k) => {
        const want = sign(body, k);
        return want.length === given.length && timingSafeEqual(want, given);
      });
      if (!genuine) return bad('tampered');
      const payload = parsePayload(body);
      if (!payload) return bad('malformed');
      const now = clock();
      // A token that claims to live longer than we ever issue was not issued by this configuration.
      if (payload.expires <= now || payload.expires > now + ttlMs) return bad('expired');
      return { token: payload.token, status: 'ok' as const };
    },
  });
}

function bad(status: Exclude<TokenStatus, 'ok'>) {
  return { token: null, status };
}

function parsePayload(body: string): { token: CausalToken; expires: number } | null {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const o = json as { p?: unknown; x?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.x !== 'number' || typeof o.p !== 'object' || !o.p)
    return null;
  const entries = Object.entries(o.p as Record<string, unknown>);
  if (entries.length === 0 || entries.length > MAX_TOKEN_SHARDS) return null;
  const positions: Record<string, bigint> = {};
  for (const [shard, text] of entries) {
    const lsn = parseLsn(text);
    if (lsn === null || !/^[A-Za-z0-9_.:-]{1,64}$/.test(shard)) return null;
    positions[shard] = lsn;
  }
  return { token: Object.freeze({ positions: Object.freeze(positions) }), expires: o.x };
}

function resolveKeys(secret: TokenCodecOptions['secret'] | undefined): Buffer[] {
  const list = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0) throw new TallyError('INVALID_CONFIG', 'secret must be given');
  return list.map((s) => {
    const key = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.isBuffer(s) ? s : null;
    if (!key || key.length < 32) {
      throw new TallyError(
        'INVALID_CONFIG',
        'each token secret must be a string or Buffer of at least 32 bytes',
      );
    }
    return key;
  });
}
