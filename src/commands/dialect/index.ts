import type { TallyConfig } from '../../config.js';
import { TallyError } from '../../errors.js';
import { mysqlStore } from './mysql/index.js';
import { postgresStore } from './postgres.js';
import type { CommandCapability, CommandStore } from './types.js';

export type { CommandCapability, CommandStore } from './types.js';

const stores = new WeakMap<TallyConfig, CommandStore>();

/**
 * The commands' store for a Tally instance's connection, chosen once per instance (decision 0132):
 * nothing after this names a dialect.
 *
 * @example
 * const row = await commandStore(config).byId(config.db, id);
 */
export function commandStore(config: TallyConfig): CommandStore {
  let store = stores.get(config);
  if (!store) {
    store = config.db.dialect === 'mysql' ? mysqlStore(config.schemaName) : postgresStore(config.s);
    stores.set(config, store);
  }
  return store;
}

/**
 * Refuses a command feature the dialect does not have yet, naming it: the one place a command
 * capability is checked (INVALID_CONFIG, as the changes' seam refuses, decision 0130).
 *
 * @example
 * requireCommandCapability(commandStore(config), 'failover', 'command redeem: failover');
 */
export function requireCommandCapability(
  store: CommandStore,
  what: CommandCapability,
  operation: string,
): void {
  if (!store.can[what]) {
    throw new TallyError(
      'INVALID_CONFIG',
      `${operation} is not available on the ${store.name} dialect yet (docs/mysql.md lists what runs there)`,
      { details: { dialect: store.name, capability: what } },
    );
  }
}
