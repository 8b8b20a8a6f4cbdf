import type { JetStreamClient, PubAck } from 'nats';
import { TallyError } from '../../errors.js';
import type { FeedEntry } from '../types.js';
import { messageId, subjectFor } from './names.js';
import { natsFailure } from './stream.js';

export interface PublishOptions {
  readonly prefix: string;
  readonly schema: string;
  /** The stream the acks must come from: a publish captured by some other stream is an error. */
  readonly stream: string;
  /** Publishes awaiting their ack at once. */
  readonly maxInFlight: number;
  /** How long one publish waits for its ack. */
  readonly timeoutMs: number;
}

export interface PublishResult {
  /** Entries the stream stored now. */
  readonly stored: number;
  /** Entries the stream already held (same message id inside the duplicate window). */
  readonly duplicates: number;
}

const encoder = new TextEncoder();

/** The message body: the feed entry as JSON (dates as ISO strings). */
export function encodeEntry(e: FeedEntry): Uint8Array {
  return encoder.encode(JSON.stringify(e));
}

/**
 * Publishes entries in order, pipelined (up to `maxInFlight` unacknowledged at once), each with its
 * stable message id, and resolves only when every one is acknowledged by the stream. Any failure
 * rejects after all publishes settled, so the caller never checkpoints past an unstored entry; a
 * retry re-publishes the batch and the broker drops the ids it already holds.
 *
 * @example
 * const r = await publishEntries(nc.jetstream(), batch.entries, {
 *   prefix: 'tally', schema: 'tally', stream: 'TALLY_tally', maxInFlight: 1024, timeoutMs: 5000,
 * });
 */
export async function publishEntries(
  js: JetStreamClient,
  entries: readonly FeedEntry[],
  o: PublishOptions,
): Promise<PublishResult> {
  // Subjects first: an entry that cannot be published is found before anything is sent.
  const subjects = entries.map((e) => subjectFor(o.prefix, o.schema, e));
  const acks: Promise<PubAck>[] = [];
  let failed: unknown = null;
  for (let i = 0; i < entries.length; i++) {
    if (i >= o.maxInFlight) {
      // Sliding window: wait for the oldest outstanding ack before sending one more.
      await acks[i - o.maxInFlight]!.catch((err) => {
        failed ??= err;
      });
      if (failed) break;
    }
    const e = entries[i]!;
    acks.push(
      js.publish(subjects[i]!, encodeEntry(e), {
        msgID: messageId(e),
        timeout: o.timeoutMs,
        expect: { streamName: o.stream },
      }),
    );
  }
  const settled = await Promise.allSettled(acks);
  let duplicates = 0;
  for (const s of settled) {
    if (s.status === 'rejected') failed ??= s.reason;
    else if (s.value.duplicate) duplicates++;
  }
  if (failed) throw natsFailure(failed, 'publishing to JetStream');
  if (settled.length !== entries.length) {
    throw new TallyError(
      'NATS_PUBLISH_FAILED',
      'publishing to JetStream stopped before every entry was sent',
    );
  }
  return { stored: entries.length - duplicates, duplicates };
}
