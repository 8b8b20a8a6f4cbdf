import { quoteIdent } from '../db/ident.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { inboxStatements } from './dialect/inbox.js';
import { checkConsumerName } from './options.js';
import type { FeedEntry } from './types.js';

/**
 * A consumer, or its name and Tally schema (default `tally`) when the inbox lives in another database.
 * A FeedConsumer's `schema` is already quoted; a plain name is checked and quoted here.
 */
export interface InboxOwner {
  readonly name: string;
  readonly schema?: string;
}

const QUOTED = /^"[A-Za-z_][A-Za-z0-9_]{0,62}"$/;

function where(owner: InboxOwner): { name: string; s: string } {
  const name = checkConsumerName(owner?.name);
  const schema = owner.schema ?? 'tally';
  return { name, s: QUOTED.test(schema) ? schema : quoteIdent(schema, 'inbox schema') };
}

/**
 * Applies `fn` for an entry once per consumer, whatever the redeliveries: records the entry in
 * `<schema>.feed_inbox` and runs `fn` in the same transaction; a redelivered entry is absorbed (fn is not
 * called). `tx` must be a transaction (FEED_TX_REQUIRED otherwise): the record and fn's writes commit
 * together or not at all. The inbox may live in another database that has Tally's tables.
 *
 * @example
 * await consumer.run(async ({ entries }) => {
 *   await mirrorDb.transaction(async (tx) => {
 *     for (const e of entries) await applyOnce(tx, consumer, e, (tx) => upsertMirror(tx, e));
 *   });
 * }, { signal });
 */
export async function applyOnce<T>(
  tx: Executor,
  consumer: InboxOwner,
  entry: FeedEntry,
  fn: (tx: Executor) => Promise<T>,
  now: Date = new Date(),
): Promise<{ applied: true; value: T } | { applied: false }> {
  if (!tx || typeof tx.query !== 'function' || tx.inTransaction !== true) {
    throw new TallyError(
      'FEED_TX_REQUIRED',
      'applyOnce needs an executor inside a transaction (db.transaction(tx => ...))',
    );
  }
  if (!entry || typeof entry !== 'object' || typeof entry.id !== 'string' || !/^\d{1,19}$/.test(entry.id)) {
    throw new TallyError('INVALID_FEED_OPTIONS', 'applyOnce needs a feed entry (with a numeric string id)');
  }
  if (entry.source !== 'log' && entry.source !== 'command_events') {
    throw new TallyError(
      'INVALID_FEED_OPTIONS',
      'applyOnce needs a feed entry with source log or command_events',
    );
  }
  const { name, s } = where(consumer);
  const inbox = inboxStatements(tx.dialect, s);
  const rows = await tx.query(inbox.insert(name, entry.source, entry.id, now));
  if (!inbox.inserted(rows)) return { applied: false };
  return { applied: true, value: await fn(tx) };
}

/**
 * Deletes a consumer's inbox records applied before `before` (redeliveries only come for entries after
 * the checkpoint, so records older than the checkpoint's age are no longer needed). Returns the count.
 *
 * @example
 * await pruneInbox(db, consumer, new Date(Date.now() - 7 * 86400_000));
 */
export async function pruneInbox(db: Executor, consumer: InboxOwner, before: Date): Promise<number> {
  if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
    throw new TallyError('INVALID_FEED_OPTIONS', 'pruneInbox needs a valid Date');
  }
  const { name, s } = where(consumer);
  const inbox = inboxStatements(db.dialect, s);
  return inbox.pruned(await db.query(inbox.prune(name, before)));
}
