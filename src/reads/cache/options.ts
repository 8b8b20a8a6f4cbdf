import { TallyError } from '../../errors.js';
import type { RedisLike } from './redis-like.js';

export interface ReadCacheOptions {
  /** An ioredis client (or anything with `eval` / `evalsha`). */
  redis: RedisLike;
  /** Namespace for every key this cache writes: `app:members`. */
  prefix: string;
  /** How long a filled value lives. Default 5 minutes. */
  ttlMs?: number;
  /**
   * How long a tombstone refuses older fills. It must outlast your slowest replica's lag plus the slowest
   * read: routers drop replicas past `maxLagMs`, so the default 60 s covers their default 5 s many times.
   */
  tombstoneMs?: number;
  /** How long one reader holds the right to refill a key. Default 2,000 ms. */
  leaseMs?: number;
  /** How long other readers wait for that refill before loading themselves. Default 50 ms. */
  waitMs?: number;
  /** Values to strings and back. Default JSON. */
  serialize?: (value: unknown) => string;
  deserialize?: (text: string) => unknown;
  /** Lease owner ids. Default random UUIDs. */
  ids?: () => string;
}

export interface ResolvedCacheOptions {
  readonly redis: RedisLike;
  readonly prefix: string;
  readonly ttlMs: number;
  readonly tombstoneMs: number;
  readonly leaseMs: number;
  readonly waitMs: number;
  readonly serialize: (value: unknown) => string;
  readonly deserialize: (text: string) => unknown;
  readonly ids: () => string;
}

const fail = (m: string): never => {
  throw new TallyError('INVALID_CACHE_OPTIONS', m);
};

function int(v: unknown, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(`${name} must be an integer from ${min} to ${max}`);
  return v as number;
}

/** Validates cache options once and freezes them. */
export function resolveCacheOptions(o: ReadCacheOptions, randomId: () => string): ResolvedCacheOptions {
  if (!o || typeof o !== 'object') fail('createReadCache needs options');
  const r = o.redis as Partial<RedisLike> | undefined;
  if (!r || typeof r.eval !== 'function' || typeof r.evalsha !== 'function') {
    fail('options.redis must be an ioredis client (eval and evalsha)');
  }
  if (typeof o.prefix !== 'string' || !/^[A-Za-z0-9_:.-]{1,64}$/.test(o.prefix)) {
    fail('options.prefix must match [A-Za-z0-9_:.-]{1,64}');
  }
  for (const f of ['serialize', 'deserialize', 'ids'] as const) {
    if (o[f] !== undefined && typeof o[f] !== 'function') fail(`options.${f} must be a function`);
  }
  const ttlMs = int(o.ttlMs, 'options.ttlMs', 300_000, 1, 30 * 86_400_000);
  const tombstoneMs = int(o.tombstoneMs, 'options.tombstoneMs', 60_000, 1, 30 * 86_400_000);
  return Object.freeze({
    redis: o.redis,
    prefix: o.prefix,
    ttlMs,
    tombstoneMs,
    leaseMs: int(o.leaseMs, 'options.leaseMs', 2_000, 1, 600_000),
    waitMs: int(o.waitMs, 'options.waitMs', 50, 0, 60_000),
    serialize: o.serialize ?? ((v: unknown) => JSON.stringify(v)),
    deserialize: o.deserialize ?? ((t: string) => JSON.parse(t)),
    ids: o.ids ?? randomId,
  });
}
