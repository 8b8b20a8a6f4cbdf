import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import { TallyError } from '../../errors.js';
import { rawEntryJson } from '../read.js';
import type { FeedEntry } from '../types.js';
import { natsModule } from './module.js';
import { messageId, subjectFor } from './names.js';
import { natsFailure } from './stream.js';

export interface PublishOptions {
  readonly prefix: string;
  readonly schema: string;
  /** The stream the acks must come from: a publish captured by some other stream is an error. */
  readonly stream: string;
  /** Publishes awaiting their ack at once. */
  readonly maxInFlight: number;
  /** How long to wait for the next ack before the batch fails. */
  readonly timeoutMs: number;
}

export interface PublishResult {
  /** Entries the stream stored now. */
  readonly stored: number;
  /** Entries the stream already held (same message id inside the duplicate window). */
  readonly duplicates: number;
  /**
   * When each entry's ack arrived, in the entries' order (`performance.timeOrigin + performance.now()`,
   * ms): the moment the stream had stored that entry, for commit -> publish latency metrics.
   */
  readonly ackTimes: Float64Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The message body: the feed entry as JSON (dates as ISO strings). */
export function encodeEntry(e: FeedEntry): Uint8Array {
  // A log entry carries the JSON text it was read as: sent on without serializing the entry again. The
  // head's values are decimal digits (ids) and a fixed word, so they need no escaping.
  const raw = rawEntryJson(e);
  if (raw !== undefined) {
    return encoder.encode(`{"source":"${e.source}","id":"${e.id}","txid":"${e.txid}","entry":${raw}}`);
  }
  return encoder.encode(JSON.stringify(e));
}

interface Pending {
  readonly token: string;
  readonly expected: number;
  acked: number;
  duplicates: number;
  failure: unknown;
  lastAckAt: number;
  readonly ackTimes: Float64Array;
  /** Wake the sender once this many acks are in (or on a failure), not on every ack. */
  needed: number;
  wake: (() => void) | null;
}

/**
 * Publishes entries to JetStream with acks, pipelined: every message goes out with a reply subject on
 * one shared inbox subscription, so a batch costs no request object or timer per message (JetStream's
 * "async publish"). Each message carries its stable id (`Nats-Msg-Id`), so a re-published entry is
 * dropped by the broker inside the duplicate window. One batch at a time per publisher.
 *
 * @example
 * const publisher = new AckedPublisher(nc);
 * const r = await publisher.publish(batch.entries, {
 *   prefix: 'tally', schema: 'tally', stream: 'TALLY_tally', maxInFlight: 1024, timeoutMs: 5000,
 * });
 * publisher.close();
 */
export class AckedPublisher {
  readonly #nc: NatsConnection;
  // What nats' createInbox() makes (`_INBOX.<unique>`), without loading the package to make it.
  readonly #inbox = `_INBOX.${randomUUID().replaceAll('-', '')}`;
  readonly #sub: Subscription;
  #batch = 0;
  #pending: Pending | null = null;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#sub = nc.subscribe(`${this.#inbox}.>`, {
      callback: (err, m) => {
        const p = this.#pending;
        // Acks of an earlier, abandoned batch (late after a reconnect) belong to nobody now.
        if (!p || !m.subject.startsWith(p.token)) return;
        if (err) p.failure ??= err;
        else if (m.headers?.code === 503) {
          p.failure ??= new TallyError(
            'NATS_UNREACHABLE',
            'no JetStream stream answered the publish (503 no responders)',
          );
        } else {
          try {
            const ack = JSON.parse(decoder.decode(m.data)) as {
              stream?: string;
              duplicate?: boolean;
              error?: { description?: string; err_code?: number };
            };
            if (ack.error) {
              p.failure ??= new TallyError(
                'NATS_PUBLISH_FAILED',
                `JetStream refused a message: ${ack.error.description ?? 'error'}`,
                {
                  details: { natsErrCode: ack.error.err_code },
                },
              );
            } else {
              p.acked++;
              if (ack.duplicate) p.duplicates++;
              // The reply subject is `<token><index>`.
              const i = Number(m.subject.slice(p.token.length));
              if (Number.isInteger(i) && i >= 0 && i < p.expected)
                p.ackTimes[i] = performance.timeOrigin + performance.now();
            }
          } catch (e) {
            p.failure ??= e;
          }
        }
        p.lastAckAt = Date.now();
        if (p.acked >= p.needed || p.failure) p.wake?.();
      },
    });
  }

  /**
   * Publishes entries in order and resolves when every one is acknowledged by the stream; rejects on the
   * first refusal, or when no ack arrived for `timeoutMs` — the caller must then not checkpoint.
   */
  async publish(entries: readonly FeedEntry[], o: PublishOptions): Promise<PublishResult> {
    const { headers } = await natsModule();
    if (this.#pending) throw new TallyError('NATS_PUBLISH_FAILED', 'one batch at a time per publisher');
    // Subjects first: an entry that cannot be published is found before anything is sent.
    const subjects = entries.map((e) => subjectFor(o.prefix, o.schema, e));
    const token = `${this.#inbox}.${++this.#batch}.`;
    const p: Pending = {
      token,
      expected: entries.length,
      acked: 0,
      duplicates: 0,
      failure: null,
      lastAckAt: Date.now(),
      ackTimes: new Float64Array(entries.length),
      needed: 0,
      wake: null,
    };
    // A full window is refilled in halves: one wake-up (a promise and a timer) per half window of acks
    // instead of one per ack, which cost more Node CPU than the publishes themselves.
    const refill = Math.max(1, Math.floor(o.maxInFlight / 2));
    this.#pending = p;
    try {
      for (let i = 0; i < entries.length; i++) {
        if (i - p.acked >= o.maxInFlight) {
          p.needed = i - o.maxInFlight + refill;
          while (p.acked < p.needed && !p.failure) await this.#wait(p, o.timeoutMs);
        }
        if (p.failure) break;
        const h = headers();
        h.set('Nats-Msg-Id', messageId(entries[i]!));
        h.set('Nats-Expected-Stream', o.stream);
        this.#nc.publish(subjects[i]!, encodeEntry(entries[i]!), { reply: `${token}${i}`, headers: h });
      }
      p.needed = p.expected;
      while (p.acked < p.expected && !p.failure) await this.#wait(p, o.timeoutMs);
      if (p.failure) throw natsFailure(p.failure, 'publishing to JetStream');
      return { stored: p.acked - p.duplicates, duplicates: p.duplicates, ackTimes: p.ackTimes };
    } catch (err) {
      throw natsFailure(err, 'publishing to JetStream');
    } finally {
      this.#pending = null;
    }
  }

  /** Waits for the next ack; fails the batch when none came for `timeoutMs`. */
  async #wait(p: Pending, timeoutMs: number): Promise<void> {
    const left = p.lastAckAt + timeoutMs - Date.now();
    if (left <= 0) {
      p.failure ??= new TallyError(
        'NATS_UNREACHABLE',
        `no JetStream ack for ${timeoutMs} ms (${p.acked} of ${p.expected} acknowledged)`,
      );
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, left);
      function done() {
        clearTimeout(t);
        p.wake = null;
        resolve();
      }
      p.wake = done;
    });
  }

  /** Stops listening for acks. The connection stays open. */
  close(): void {
    this.#sub.unsubscribe();
  }
}

/**
 * Publishes one batch with a publisher of its own (see {@link AckedPublisher}).
 *
 * @example
 * const r = await publishEntries(nc, batch.entries, {
 *   prefix: 'tally', schema: 'tally', stream: 'TALLY_tally', maxInFlight: 1024, timeoutMs: 5000,
 * });
 */
export async function publishEntries(
  nc: NatsConnection,
  entries: readonly FeedEntry[],
  o: PublishOptions,
): Promise<PublishResult> {
  const publisher = new AckedPublisher(nc);
  try {
    return await publisher.publish(entries, o);
  } finally {
    publisher.close();
  }
}
