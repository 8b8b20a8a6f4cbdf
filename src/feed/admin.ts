import { TallyError } from '../errors.js';
import type { HasTallyConfig } from './consumer.js';
import { consumerNotFound } from './lease.js';
import { checkConsumerName } from './options.js';
import { deleteConsumerSql } from './sql.js';

/**
 * Deletes a consumer's checkpoint and inbox records: the name starts from scratch when opened again.
 * CONSUMER_BUSY while a process holds its lease (stop it first), CONSUMER_NOT_FOUND when there is none.
 *
 * @example
 * await dropConsumer(tally, 'search-index');
 */
export async function dropConsumer(tally: HasTallyConfig, name: string): Promise<void> {
  checkConsumerName(name);
  const { db, s, clock } = tally.config;
  const [r] = await db.query<{ found: boolean; deleted: boolean }>(deleteConsumerSql(s, name, clock()));
  if (!r?.found) throw consumerNotFound(name);
  if (!r.deleted) {
    throw new TallyError('CONSUMER_BUSY', `consumer ${name} is held by a running process; stop it first`);
  }
}
