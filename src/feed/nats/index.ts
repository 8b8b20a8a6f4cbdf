// `tally/nats`: the JetStream relay. Needs the `nats` package (an optional peer dependency).

export { type NatsCheckpointSinkOptions, natsCheckpointSink } from './checkpoint-sink.js';
export { connectNats } from './connect.js';
export { messageId, streamName, streamSubjects, subjectFor, subjectToken } from './names.js';
export type { RelayBatchInfo, RelayOptions } from './options.js';
export {
  AckedPublisher,
  encodeEntry,
  type PublishOptions,
  type PublishResult,
  publishEntries,
} from './publish.js';
export { type Relay, type RelayStats, startRelay } from './relay.js';
export { DEFAULT_DUPLICATE_WINDOW_MS, ensureStream, type StreamSpec } from './stream.js';
