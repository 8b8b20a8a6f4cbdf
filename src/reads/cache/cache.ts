import { randomUUID } from 'node:crypto';
import { TallyError } from '../../errors.js';
import { sleep } from '../wait.js';
import { type ReadCacheOptions, resolveCacheOptions } from './options.js';
import { scriptRunner } from './redis-like.js';
import { FILL, INVALIDATE, PEEK, READ_ONLY, READ_OR_LEASE } from './scripts.js';
import { type CacheVersion, parseVersionText, versionText } from './version.js';

/** What a loader returns: the value read from the database and how new it is. */
export interface Loaded<T> {
  /** `undefined` means "nothing to cache" (the value is returned but not filled). */
  value: T;
  version: CacheVersion;
}

export type FillOutcome = 'filled' | 'refused_tombstone' | 'refused_older' | 'present' | 'skipped' | 'error';

export interface CacheRead<T> {
  readonly value: T;
  /** cache: a fresh hit; loader: read from the database; stale: the pre-invalidation value, marked so. */
  readonly source: 'cache' | 'loader' | 'stale';
  readonly stale: boolean;
  /** For `loader` reads: what became of the fill (refused fills are the stale-set guard at work). */
  readonly fill: FillOutcome | null;
}

export interface CacheStats {
  hits: number;
  misses: number;
  fills: number;
  refusedFills: number;
  staleServed: number;
  leaseWaits: number;
  redisErrors: number;
}

export interface ReadCache {
  /** Cache-aside read: a hit, or one loader per hot key refilling (with the stale-set guard). */
  read<T>(
    key: string,
    load: () => Promise<Loaded<T>>,
    options?: { allowStale?: boolean },
  ): Promise<CacheRead<T>>;
  /** After a write: leaves a tombstone that refuses fills older than `version` (the write's). */
  invalidate(key: string, version: CacheVersion): Promise<void>;
  /** What Redis holds for a key (tests, debugging). */
  peek(key: string): Promise<{
    state: 'fresh' | 'tombstone' | 'absent';
    value: unknown;
    version: bigint | null;
    floor: bigint | null;
  }>;
  stats(): CacheStats;
}

/**
 * Cache-aside that cannot be refilled with a stale value. A fill carries the version its read saw (a row
 * version, or `Routed.version` — the WAL position the read is at least as new as); a Lua script accepts it
 * only if it is at least the version of the last invalidation (the tombstone) and of the cached entry.
 * One reader per key holds a lease to refill; the others wait briefly, or take the old value marked stale.
 *
 * @example
 * const cache = createReadCache({ redis: new Redis(), prefix: 'app:members' });
 * // read
 * const { value } = await cache.read(`member:${id}`, async () => {
 *   const r = await reads.execute({ text: 'SELECT level FROM members WHERE id = $1', values: [id] }, { token, version: true });
 *   return { value: r.rows[0]?.level, version: r.version! };
 * });
 * // write
 * const w = await reads.execute({ text: 'UPDATE members SET level = $1 WHERE id = $2', values: [3, id] });
 * await cache.invalidate(`member:${id}`, tokenPosition(w.token, reads.shard)!);
 */
export function createReadCache(options: ReadCacheOptions): ReadCache {
  const o = resolveCacheOptions(options, randomUUID);
  const run = {
    readOrLease: scriptRunner(o.redis, READ_OR_LEASE),
    readOnly: scriptRunner(o.redis, READ_ONLY),
    fill: scriptRunner(o.redis, FILL),
    invalidate: scriptRunner(o.redis, INVALIDATE),
    peek: scriptRunner(o.redis, PEEK),
  };
  const stats: CacheStats = {
    hits: 0,
    misses: 0,
    fills: 0,
    refusedFills: 0,
    staleServed: 0,
    leaseWaits: 0,
    redisErrors: 0,
  };
  // Entry and lease share a hash tag so a Redis Cluster keeps them on one node (Lua needs that).
  const keysOf = (key: string) => [`${o.prefix}:{${checkKey(key)}}:e`, `${o.prefix}:{${key}}:l`] as const;

  async function fill<T>(
    entry: string,
    lease: string,
    owner: string,
    loaded: Loaded<T>,
  ): Promise<FillOutcome> {
    const version = versionText(loaded.version);
    if (loaded.value === undefined) return 'skipped';
    try {
      const r = String(await run.fill([entry, lease], [owner, version, o.serialize(loaded.value), o.ttlMs]));
      if (r === 'filled') stats.fills++;
      else if (r.startsWith('refused')) stats.refusedFills++;
      return r as FillOutcome;
    } catch {
      stats.redisErrors++;
      return 'error';
    }
  }

  async function loadAndFill<T>(
    entry: string,
    lease: string,
    owner: string,
    load: () => Promise<Loaded<T>>,
  ): Promise<CacheRead<T>> {
    const loaded = await load();
    if (!loaded || typeof loaded !== 'object' || !('version' in loaded)) {
      throw new TallyError('INVALID_CACHE_VERSION', 'a cache loader must return { value, version }');
    }
    const outcome = await fill(entry, lease, owner, loaded);
    return { value: loaded.value, source: 'loader', stale: false, fill: outcome };
  }

  const cache: ReadCache = {
    async read<T>(
      key: string,
      load: () => Promise<Loaded<T>>,
      readOptions: { allowStale?: boolean } = {},
    ): Promise<CacheRead<T>> {
      const [entry, lease] = keysOf(key);
      if (typeof load !== 'function')
        throw new TallyError('INVALID_CACHE_OPTIONS', 'read needs a loader function');
      const owner = o.ids();
      let reply: string[];
      try {
        reply = (await run.readOrLease([entry, lease], [owner, o.leaseMs])) as string[];
      } catch {
        // Redis down: the database still answers; nothing is filled, so nothing stale can be left behind.
        stats.redisErrors++;
        const loaded = await load();
        return { value: loaded.value, source: 'loader', stale: false, fill: 'error' } as CacheRead<T>;
      }
      const [status, data] = reply;
      if (status === 'hit') {
        stats.hits++;
        return { value: o.deserialize(data!) as T, source: 'cache', stale: false, fill: null };
      }
      stats.misses++;
      if (status === 'lease') return loadAndFill(entry, lease, owner, load);
      if (status === 'busy-stale' && readOptions.allowStale) {
        stats.staleServed++;
        return { value: o.deserialize(data!) as T, source: 'stale', stale: true, fill: null };
      }
      // Someone else is refilling: wait a little for their value rather than all hitting the database.
      stats.leaseWaits++;
      const until = Date.now() + o.waitMs;
      while (Date.now() < until) {
        await sleep(Math.min(10, o.waitMs));
        const r = (await run.readOnly([entry], []).catch(() => null)) as string[] | null;
        if (r?.[0] === 'hit') {
          stats.hits++;
          return { value: o.deserialize(r[1]!) as T, source: 'cache', stale: false, fill: null };
        }
      }
      // Still nothing: load ourselves. Our fill goes through the same version check, so it is safe too.
      return loadAndFill(entry, lease, owner, load);
    },

    async invalidate(key: string, version: CacheVersion): Promise<void> {
      const [entry] = keysOf(key);
      const v = versionText(version);
      try {
        await run.invalidate([entry], [v, o.tombstoneMs]);
      } catch (err) {
        // The caller must know: without the tombstone the old value stays served until its TTL.
        throw new TallyError('CACHE_ERROR', 'cache invalidation failed', { cause: err });
      }
    },

    async peek(key: string) {
      const [entry] = keysOf(key);
      const [s, d, n, f] = (await run.peek([entry], [])) as string[];
      return {
        state: s === 'v' ? ('fresh' as const) : s === 't' ? ('tombstone' as const) : ('absent' as const),
        value: s === 'v' ? o.deserialize(d!) : undefined,
        version: parseVersionText(n ?? ''),
        floor: parseVersionText(f ?? ''),
      };
    },

    stats: () => ({ ...stats }),
  };
  return Object.freeze(cache);
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
    throw new TallyError('INVALID_CACHE_KEY', 'a cache key must be a string of 1 to 512 characters');
  }
  return key;
}
