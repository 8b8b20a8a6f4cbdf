import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { createReadCache, type Loaded, type ReadCache } from '../../src/reads/cache/cache.js';
import { freshRedis, redisAvailable, type TestRedis } from '../support/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BIG = 18446744073709551615n; // the largest WAL position: versions beyond 2^53 compare exactly

describe.skipIf(!redisAvailable)('cache-aside with a stale-fill guard (real Redis)', () => {
  let r: TestRedis;
  let cache: ReadCache;
  let n = 0;
  const key = () => `k${++n}`;

  beforeAll(async () => {
    r = await freshRedis();
    cache = createReadCache({ redis: r.redis, prefix: r.prefix, waitMs: 100 });
  });
  afterAll(async () => {
    await r?.close();
  });

  const fillWith = (k: string, value: unknown, version: bigint | number) =>
    cache.read(k, async () => ({ value, version }));

  it('fills on a miss and serves hits', async () => {
    const k = key();
    let loads = 0;
    const load = async () => ({ value: { level: 1 }, version: ++loads });
    expect(await cache.read(k, load)).toEqual({
      value: { level: 1 },
      source: 'loader',
      stale: false,
      fill: 'filled',
    });
    expect(await cache.read(k, load)).toEqual({
      value: { level: 1 },
      source: 'cache',
      stale: false,
      fill: null,
    });
    expect(loads).toBe(1);
    expect(await cache.peek(k)).toEqual({ state: 'fresh', value: { level: 1 }, version: 1n, floor: null });
  });

  it('a tombstone refuses fills older than the write and accepts ones at least as new', async () => {
    const k = key();
    await fillWith(k, 'old', 10);
    await cache.invalidate(k, 11);
    expect(await cache.peek(k)).toMatchObject({ state: 'tombstone', floor: 11n });
    // The lagging replica's read: version 10 < 11. Returned to its caller, never cached.
    expect(await fillWith(k, 'old', 10)).toMatchObject({
      value: 'old',
      source: 'loader',
      fill: 'refused_tombstone',
    });
    expect((await cache.peek(k)).state).toBe('tombstone');
    expect(await fillWith(k, 'new', 11)).toMatchObject({ fill: 'filled' });
    expect(await cache.peek(k)).toMatchObject({ state: 'fresh', value: 'new', version: 11n });
  });

  it('never lets an older fill replace a newer value, and keeps the highest tombstone', async () => {
    const k = key();
    await fillWith(k, 'v5', 5);
    // Fills go through the script even for present keys when a reader was told to load (lease path).
    const direct = createReadCache({ redis: r.redis, prefix: r.prefix, waitMs: 0 });
    await cache.invalidate(k, 7);
    await cache.invalidate(k, 6); // a late invalidation from an older write does not lower the floor
    expect((await cache.peek(k)).floor).toBe(7n);
    expect(await direct.read(k, async () => ({ value: 'v6', version: 6 }))).toMatchObject({
      fill: 'refused_tombstone',
    });
    expect(await direct.read(k, async () => ({ value: 'v9', version: 9 }))).toMatchObject({ fill: 'filled' });
    await cache.invalidate(k, BIG - 1n);
    expect(await direct.read(k, async () => ({ value: 'x', version: BIG - 2n }))).toMatchObject({
      fill: 'refused_tombstone',
    });
    expect(await direct.read(k, async () => ({ value: 'max', version: BIG }))).toMatchObject({
      fill: 'filled',
    });
    expect(await cache.peek(k)).toMatchObject({ value: 'max', version: BIG });
  });

  it('a slow reader of an older version cannot overwrite a faster reader of a newer one', async () => {
    const k = key();
    const impatient = createReadCache({ redis: r.redis, prefix: r.prefix, waitMs: 0 });
    let release!: () => void;
    const slow = impatient.read(
      k,
      () => new Promise<Loaded<string>>((res) => (release = () => res({ value: 'v1', version: 1 }))),
    );
    await sleep(10);
    // Lease taken by the slow reader; this one does not wait and loads a newer version itself.
    expect(await impatient.read(k, async () => ({ value: 'v2', version: 2 }))).toMatchObject({
      fill: 'filled',
    });
    release();
    expect(await slow).toMatchObject({ value: 'v1', fill: 'refused_older' });
    expect(await cache.peek(k)).toMatchObject({ value: 'v2', version: 2n });
  });

  it('tombstones expire after tombstoneMs; values after ttlMs', async () => {
    const short = createReadCache({ redis: r.redis, prefix: r.prefix, tombstoneMs: 100, ttlMs: 150 });
    const k = key();
    await short.invalidate(k, 100);
    expect(await short.read(k, async () => ({ value: 'old', version: 1 }))).toMatchObject({
      fill: 'refused_tombstone',
    });
    await sleep(150);
    expect((await short.peek(k)).state).toBe('absent');
    expect(await short.read(k, async () => ({ value: 'v', version: 1 }))).toMatchObject({ fill: 'filled' });
    await sleep(200);
    expect((await short.peek(k)).state).toBe('absent');
  });

  it('one reader per hot key refills; the others wait for its value', async () => {
    const k = key();
    let loads = 0;
    const load = async () => {
      loads++;
      await sleep(30); // a slow query
      return { value: 'hot', version: 1 };
    };
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.read(k, load)));
    expect(loads).toBe(1);
    expect(results.every((x) => x.value === 'hot')).toBe(true);
    expect(results.filter((x) => x.source === 'loader')).toHaveLength(1);
    expect(results.filter((x) => x.source === 'cache')).toHaveLength(49);
  });

  it('while a refill is in flight, readers that allow it get the old value marked stale', async () => {
    const k = key();
    await fillWith(k, 'before', 1);
    await cache.invalidate(k, 2);
    let release!: () => void;
    const slow = cache.read(
      k,
      () => new Promise<Loaded<string>>((res) => (release = () => res({ value: 'after', version: 2 }))),
    );
    await sleep(20);
    const other = await cache.read(k, async () => ({ value: 'unused', version: 2 }), { allowStale: true });
    expect(other).toEqual({ value: 'before', source: 'stale', stale: true, fill: null });
    release();
    expect(await slow).toMatchObject({ value: 'after', fill: 'filled' });
    expect(await cache.read(k, async () => ({ value: 'unused', version: 3 }))).toMatchObject({
      value: 'after',
      source: 'cache',
    });
  });

  it('a reader whose lease holder never fills loads itself after waitMs (still guarded)', async () => {
    const k = key();
    await cache.invalidate(k, 5);
    const stuck = cache.read(k, () => new Promise<never>(() => {})); // takes the lease, never returns
    void stuck;
    await sleep(10);
    const t0 = Date.now();
    const got = await cache.read(k, async () => ({ value: 'mine', version: 5 }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(got).toMatchObject({ value: 'mine', source: 'loader', fill: 'filled' });
  });

  it('serves from the database when Redis is down, and says so when an invalidation fails', async () => {
    const down = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    down.on('error', () => {});
    const c = createReadCache({ redis: down, prefix: r.prefix });
    expect(await c.read('x', async () => ({ value: 'db', version: 1 }))).toEqual({
      value: 'db',
      source: 'loader',
      stale: false,
      fill: 'error',
    });
    expect(c.stats().redisErrors).toBe(1);
    await expect(c.invalidate('x', 1)).rejects.toMatchObject({ code: 'CACHE_ERROR' });
    down.disconnect();
  });

  it('rejects bad keys, versions and options with stable codes', async () => {
    const code = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        return isTallyError(err) ? err.code : 'other';
      }
      return 'no error';
    };
    expect(await code(() => cache.read('', async () => ({ value: 1, version: 1 })))).toBe(
      'INVALID_CACHE_KEY',
    );
    expect(await code(() => cache.read('x'.repeat(600), async () => ({ value: 1, version: 1 })))).toBe(
      'INVALID_CACHE_KEY',
    );
    expect(await code(() => cache.invalidate(key(), -1))).toBe('INVALID_CACHE_VERSION');
    expect(await code(() => cache.invalidate(key(), 1.5))).toBe('INVALID_CACHE_VERSION');
    expect(await code(() => cache.invalidate(key(), 1n << 64n))).toBe('INVALID_CACHE_VERSION');
    expect(await code(() => cache.read(key(), async () => ({ value: 1, version: '7' as never })))).toBe(
      'INVALID_CACHE_VERSION',
    );
    expect(await code(() => cache.read(key(), async () => 'no version' as never))).toBe(
      'INVALID_CACHE_VERSION',
    );
    expect(await code(() => createReadCache({ redis: {} as never, prefix: 'p' }))).toBe(
      'INVALID_CACHE_OPTIONS',
    );
    expect(await code(() => createReadCache({ redis: r.redis, prefix: 'bad prefix' }))).toBe(
      'INVALID_CACHE_OPTIONS',
    );
    expect(await code(() => createReadCache({ redis: r.redis, prefix: 'p', ttlMs: 0 }))).toBe(
      'INVALID_CACHE_OPTIONS',
    );
  });
});
