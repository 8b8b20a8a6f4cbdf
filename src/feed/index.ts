export { dropConsumer } from './admin.js';
export { FeedConsumer, type HasTallyConfig, openConsumer, type RunOptions } from './consumer.js';
export { applyOnce, type InboxOwner, pruneInbox } from './inbox.js';
export { feedNotifyEnabled, setFeedNotify } from './notify.js';
export { type ConsumerOptions, checkConsumerName } from './options.js';
export { BEGINNING_SNAPSHOT, checkPosition } from './position.js';
export { type PruneSeqsResult, pruneFeedSeqs } from './prune-seqs.js';
export type { ReplayFrom } from './replay.js';
export type {
  CommandEventEntry,
  FeedBatch,
  FeedEntry,
  FeedHandler,
  FeedLag,
  FeedPosition,
  FeedSource,
  FeedTxHandler,
} from './types.js';
export { feedChannel, type PGliteListenLike, type PgListenPoolLike, type WakeSource } from './wake.js';
