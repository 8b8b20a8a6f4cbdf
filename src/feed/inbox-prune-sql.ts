import type { SqlQuery } from '../db/types.js';
import type { FeedSource } from './types.js';

/** One page of a consumer's inbox records of one source, by entry id after `after`. */
export const inboxPageSql = (
  s: string,
  consumer: string,
  source: FeedSource,
  after: string,
  limit: number,
): SqlQuery => ({
  text: `SELECT entry_id::text AS id FROM ${s}.feed_inbox
          WHERE consumer = $1 AND source = $2 AND entry_id > $3::int8
          ORDER BY entry_id LIMIT $4`,
  values: [consumer, source, after, limit],
});

/**
 * Of these entry ids, the ones the consumer's checkpoint has passed: written by a transaction visible in
 * its snapshot (decision 0040: it is never handed out again), or no longer in the source table (archived
 * or pruned, which happens only behind every consumer). An inbox record exists only for an entry that was
 * delivered, so a missing row is never one still to come. No rows when the consumer does not exist.
 */
export const behindCheckpointSql = (
  s: string,
  consumer: string,
  source: FeedSource,
  ids: readonly string[],
): SqlQuery => ({
  text: `SELECT i.id::text AS id
           FROM ${s}.feed_consumers f
          CROSS JOIN unnest($2::int8[]) AS i(id)
           LEFT JOIN ${s}.${source === 'log' ? 'log' : 'command_events'} t ON t.id = i.id
          WHERE f.name = $1 AND f.source = $3
            AND (t.id IS NULL OR pg_visible_in_snapshot(t.txid, f.snapshot::pg_snapshot))`,
  values: [consumer, ids, source],
});

export const deleteInboxSql = (
  s: string,
  consumer: string,
  source: FeedSource,
  ids: readonly string[],
): SqlQuery => ({
  text: `WITH d AS (DELETE FROM ${s}.feed_inbox
                     WHERE consumer = $1 AND source = $2 AND entry_id = ANY($3::int8[]) RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
  values: [consumer, source, ids],
});

export const consumerSourceSql = (s: string, consumer: string): SqlQuery => ({
  text: `SELECT source FROM ${s}.feed_consumers WHERE name = $1`,
  values: [consumer],
});
