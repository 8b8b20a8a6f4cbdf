import { TallyError } from '../errors.js';
import type { HasTallyConfig } from './consumer.js';
import { feedStore } from './dialect/index.js';
import { consumerNotFound } from './lease.js';
import { checkConsumerName } from './options.js';

/**
 * Deletes a consumer's checkpoint and inbox records: the name starts from scratch when opened again.
 * CONSUMER_BUSY while a process holds its lease (stop it first), CONSUMER_NOT_FOUND when there is none.
 *
 * @example
 * await dropConsumer(tally, 'search-index');
 */
export async function dropConsumer(tally: HasTallyConfig, name: string): Promise<void> {
  checkConsumerName(name);
  const r = await feedStore(tally.config).deleteConsumer(name, tally.config.clock());
  if (!r.found) throw consumerNotFound(name);
  if (!r.deleted) {
    throw new TallyError('CONSUMER_BUSY', `consumer ${name} is held by a running process; stop it first`);
  }
}
