export {
  type Classification,
  classifyStatement,
  DEFAULT_SAFE_FUNCTIONS,
  type StatementClass,
} from './classify.js';
export { canonicalKey, type ShardKey, stableHash } from './hash.js';
export type { ReplicaHealth, ReplicaStatus } from './health.js';
export { formatLsn, type Lsn, parseLsn } from './lsn.js';
export type { ReadRouterOptions, ReplicaOptions } from './options.js';
export { type BucketMove, type MovePlan, planBucketMoves, planRebalance } from './rebalance.js';
export { createReadRouter, type ExecuteOptions, type ReadRouter, type Routed } from './router.js';
export { forcePrimary, isPrimaryForced } from './scope.js';
export { createShardedReads, type ShardedReads, type ShardRoute } from './sharded.js';
export {
  bucketOf,
  bucketTable,
  createShardLayout,
  type KeyRoute,
  loadShardLayout,
  routeKey,
  type ShardLayout,
  type ShardLayoutOptions,
} from './sharding.js';
export type { RouteDecision, RouteReason, RouterStats } from './stats.js';
export { type CausalToken, describeToken, makeToken, mergeTokens, tokenPosition } from './token.js';
export {
  createTokenCodec,
  type TokenCodec,
  type TokenCodecOptions,
  type TokenStatus,
} from './token-codec.js';
