import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { masked, noteUnavailable } from './skips.js';

/** The Redis tests use: REDIS_URL, or the local one every developer machine and CI have. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const inCI = process.env.CI === 'true' || process.env.CI === '1';

async function reachable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export const redisAvailable = await reachable();
if (!redisAvailable && inCI) {
  // Under CI a missing server is a failure, never a silent skip.
  throw new Error(`CI=true but Redis is not reachable at ${REDIS_URL}`);
}
if (!redisAvailable) noteUnavailable('Redis', `not reachable at ${masked(REDIS_URL)}`);

export interface TestRedis {
  readonly redis: Redis;
  /** A key prefix of this test file's own: parallel files never see each other's keys. */
  readonly prefix: string;
  close(): Promise<void>;
}

/** A client and a fresh key prefix; close() deletes every key under the prefix. */
export async function freshRedis(): Promise<TestRedis> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefix = `tally_t_${randomBytes(6).toString('hex')}`;
  return {
    redis,
    prefix,
    async close() {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await redis.quit();
    },
  };
}
