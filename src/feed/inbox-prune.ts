import { quoteIdent } from '../db/ident.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { HasTallyConfig } from './consumer.js';
import { behindCheckpointSql, consumerSourceSql, deleteInboxSql, inboxPageSql } from './inbox-prune-sql.js';
import { checkConsumerName } from './options.js';
import type { FeedSource } from './types.js';

export interface PruneInboxOptions {
  /** Where the inbox lives when not beside the feed: its database and Tally schema (default `tally`). */
  inbox?: { db: Executor; schema?: string };
  /** Inbox records looked at per round (three short statements). Default 1,000. */
  chunk?: number;
  /** Stop after this many rounds. Default: until the inbox is walked once. */
  maxChunks?: number;
}

export interface PruneInboxResult {
  deleted: number;
  /** Records still needed: their entries are after the consumer's checkpoint (a redelivery may come). */
  kept: number;
  chunks: number;
  done: boolean;
}

/**
 * Deletes a consumer's inbox records (applyOnce) whose entries its checkpoint has passed — those are
 * never handed out again, so nothing is left to absorb — in bounded chunks. Records after the checkpoint
 * stay: a crash between applying and checkpointing redelivers them. Unlike `pruneInbox(db, consumer,
 * before)` it needs no guess of an age. The inbox may live in another database (`inbox`); the
 * checkpoint is read from the feed's.
 *
 * @example
 * const { deleted } = await pruneInboxBehind(tally, 'mirror', { inbox: { db: mirrorDb } });
 */
export async function pruneInboxBehind(
  feed: HasTallyConfig,
  consumer: string,
  options: PruneInboxOptions = {},
): Promise<PruneInboxResult> {
  const name = checkConsumerName(consumer);
  const { db, s } = feed.config;
  const inboxDb = options.inbox?.db ?? db;
  const is = options.inbox ? quoteIdent(options.inbox.schema ?? 'tally', 'inbox schema') : s;
  const chunk = options.chunk ?? 1000;
  const maxChunks = options.maxChunks ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 100_000) {
    throw new TallyError(
      'INVALID_FEED_OPTIONS',
      'pruneInboxBehind chunk must be an integer from 1 to 100000',
    );
  }
  const [c] = await db.query<{ source: FeedSource }>(consumerSourceSql(s, name));
  if (!c) throw new TallyError('CONSUMER_NOT_FOUND', `feed consumer ${name} does not exist`);
  const result: PruneInboxResult = { deleted: 0, kept: 0, chunks: 0, done: true };
  let after = '0';
  for (;;) {
    if (result.chunks >= maxChunks) {
      result.done = false;
      return result;
    }
    const page = (await inboxDb.query<{ id: string }>(inboxPageSql(is, name, c.source, after, chunk))).map(
      (r) => r.id,
    );
    if (page.length === 0) break;
    result.chunks++;
    after = page[page.length - 1]!;
    const behind = (await db.query<{ id: string }>(behindCheckpointSql(s, name, c.source, page))).map(
      (r) => r.id,
    );
    if (behind.length > 0) {
      const [d] = await inboxDb.query<{ n: number }>(deleteInboxSql(is, name, c.source, behind));
      result.deleted += Number(d?.n ?? 0);
    }
    result.kept += page.length - behind.length;
    if (page.length < chunk) break;
  }
  return result;
}
