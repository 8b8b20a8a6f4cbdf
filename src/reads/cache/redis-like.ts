import { sha1 } from './scripts.js';

/**
 * The part of an `ioredis` client the cache uses; any client with this shape works (ioredis stays an
 * optional peer dependency).
 */
export interface RedisLike {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * Runs a Lua script by hash, loading it with EVAL when the server does not know it yet (after a
 * restart or SCRIPT FLUSH).
 */
export function scriptRunner(redis: RedisLike, script: string) {
  const hash = sha1(script);
  return async (keys: string[], args: (string | number)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(hash, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error)?.message ?? '').startsWith('NOSCRIPT')) throw err;
      return redis.eval(script, keys.length, ...keys, ...args);
    }
  };
}
