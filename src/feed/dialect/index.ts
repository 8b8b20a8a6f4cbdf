import type { TallyConfig } from '../../config.js';
import { mysqlFeedStore } from './mysql/store.js';
import { postgresFeedStore } from './postgres.js';
import type { FeedStore } from './types.js';

export type { FeedStore } from './types.js';

const stores = new WeakMap<TallyConfig, FeedStore>();

/** The feed's statements for the config's database, picked once per config (decision 0130). */
export function feedStore(config: TallyConfig): FeedStore {
  let store = stores.get(config);
  if (!store) {
    store = config.db.dialect === 'mysql' ? mysqlFeedStore(config) : postgresFeedStore(config);
    stores.set(config, store);
  }
  return store;
}
