import { TallyError } from '../errors.js';
import type { ShardKey } from './hash.js';
import type { ReadRouter } from './router.js';
import { type KeyRoute, routeKey, type ShardLayout } from './sharding.js';

export interface ShardRoute extends KeyRoute {
  /** The router (primary + replicas) of the database holding the key's bucket. */
  readonly router: ReadRouter;
}

export interface ShardedReads {
  readonly layout: ShardLayout;
  /** Where a key lives and the router to reach it. */
  route(key: ShardKey, baseTable: string): ShardRoute;
}

/**
 * Binds a shard layout to one read router per database (index = database number). Each router has its
 * own shard name, so a client's token carries one position per database it wrote to (`mergeTokens`).
 *
 * @example
 * const shards = createShardedReads(layout, routers); // routers[i] serves database i
 * const { router, table } = shards.route(userId, 'members');
 * const w = await router.execute({ text: `UPDATE ${table} SET level = $1 WHERE id = $2`, values: [3, userId] });
 * token = mergeTokens(token, w.token);
 */
export function createShardedReads(layout: ShardLayout, routers: readonly ReadRouter[]): ShardedReads {
  if (!Array.isArray(routers) || routers.length < layout.databases) {
    throw new TallyError(
      'INVALID_SHARD_LAYOUT',
      `the layout addresses ${layout.databases} databases: give a router for each`,
    );
  }
  const names = new Set(routers.map((r) => r.shard));
  if (names.size !== routers.length) {
    throw new TallyError(
      'INVALID_SHARD_LAYOUT',
      'each database router needs its own shard name (tokens are per shard)',
    );
  }
  return Object.freeze({
    layout,
    route(key: ShardKey, baseTable: string): ShardRoute {
      const r = routeKey(layout, key, baseTable);
      return Object.freeze({ ...r, router: routers[r.database]! });
    },
  });
}
