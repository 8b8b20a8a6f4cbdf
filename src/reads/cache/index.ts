export {
  type CacheRead,
  type CacheStats,
  createReadCache,
  type FillOutcome,
  type Loaded,
  type ReadCache,
} from './cache.js';
export type { ReadCacheOptions } from './options.js';
export type { RedisLike } from './redis-like.js';
export type { CacheVersion } from './version.js';
