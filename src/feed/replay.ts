import type { TallyConfig } from '../config.js';
import { TallyError } from '../errors.js';
import { feedStore } from './dialect/index.js';
import { BEGINNING_SNAPSHOT, checkPosition } from './position.js';
import type { FeedPosition, FeedSource } from './types.js';

/** Where a replay starts: a saved position, either end, an entry id (inclusive) or a time. */
export type ReplayFrom =
  | FeedPosition
  | 'beginning'
  | 'now'
  | { readonly id: string | number | bigint }
  | { readonly at: Date };

const ID = /^[1-9]\d{0,18}$/;

/**
 * The position a replay sets. From an id X: the window (nothing, now], paged by id from X - 1, so every
 * committed entry with id >= X comes again in id order, then the feed goes on with what commits later.
 * From a time: the same, from the first entry at or after it. The current snapshot is taken before
 * the id is looked up, so nothing that commits in between can fall between the two.
 */
export async function replayPosition(
  config: TallyConfig,
  source: FeedSource,
  from: ReplayFrom,
): Promise<FeedPosition> {
  const bad = (why: string): never => {
    throw new TallyError('INVALID_FEED_POSITION', `replay ${why}`);
  };
  const frozen = (p: FeedPosition) => Object.freeze(p);
  if (from === 'beginning')
    return frozen({ source, snapshot: BEGINNING_SNAPSHOT, upper: null, afterId: null });
  if (from === null || (typeof from !== 'object' && from !== 'now')) {
    bad("needs a saved position, 'beginning', 'now', { id } or { at: Date }");
  }
  const store = feedStore(config);
  const current = () => store.currentSnapshot();
  if (from === 'now') return frozen({ source, snapshot: await current(), upper: null, afterId: null });
  const o = from as Record<string, unknown>;
  if ('snapshot' in o) return checkPosition(o, source);
  if ('id' in o) {
    const id = String(o.id);
    if (!ID.test(id)) bad('id must be a positive integer entry id');
    const upper = await current();
    return frozen({ source, snapshot: BEGINNING_SNAPSHOT, upper, afterId: (BigInt(id) - 1n).toString() });
  }
  if ('at' in o) {
    if (!(o.at instanceof Date) || Number.isNaN(o.at.getTime())) bad('at must be a valid Date');
    const upper = await current();
    const id = await store.firstIdAt(source, o.at as Date);
    if (id === null) return frozen({ source, snapshot: upper, upper: null, afterId: null });
    return frozen({ source, snapshot: BEGINNING_SNAPSHOT, upper, afterId: (BigInt(id) - 1n).toString() });
  }
  return bad("needs a saved position, 'beginning', 'now', { id } or { at: Date }");
}
