import { setTimeout as sleep } from 'node:timers/promises';
import { TallyError } from '../errors.js';
import { type CheckpointSink, checkpointDeliveryId, noteBody } from './sink.js';

export interface WebhookSinkOptions {
  /** Where each checkpoint is POSTed (JSON). */
  url: string;
  /**
   * Where the receiver answers the newest checkpoint it holds (GET; the note as text, or JSON with a
   * `note` field), for `tally verify`. Without it `latest()` answers null.
   */
  latestUrl?: string;
  /** Extra request headers (an authorization token, say). */
  headers?: Record<string, string>;
  /** Tries per publish, the first included. Default 4. */
  attempts?: number;
  /** The first retry's wait; each next one doubles it (with jitter). Default 200 ms. */
  backoffMs?: number;
  /** Per request. Default 5000 ms. */
  timeoutMs?: number;
}

/** The JSON body of a checkpoint delivery: the signed note, and its fields for the receiver's convenience. */
export interface CheckpointDelivery {
  type: 'tally.checkpoint.v1';
  deliveryId: string;
  origin: string;
  treeSize: number;
  rootHash: string;
  time: string;
  note: string;
}

const posInt = (v: unknown, what: string, fallback: number, max: number): number => {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new TallyError('INVALID_SINK_OPTIONS', `webhook sink ${what} must be an integer from 1 to ${max}`);
  }
  return v;
};

/**
 * The webhook sink: POSTs each checkpoint as JSON with a `Tally-Delivery-Id` header (the same for every
 * retry of one checkpoint, so the receiver can drop repeats), retried with exponential backoff on a
 * network error, a timeout, 408, 429 or 5xx. Any 2xx is the acknowledgement. Another 4xx is not retried
 * within the call (the next sealing round tries again).
 *
 * @example
 * const sink = webhookCheckpointSink({ url: 'https://audit.example.com/tally/checkpoints' });
 * await sink.publish(note);
 */
export function webhookCheckpointSink(options: WebhookSinkOptions): CheckpointSink {
  let url: URL;
  try {
    url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new TallyError('INVALID_SINK_OPTIONS', 'webhook sink url must be an http(s) URL');
  }
  const attempts = posInt(options.attempts, 'attempts', 4, 20);
  const backoffMs = posInt(options.backoffMs, 'backoffMs', 200, 60_000);
  const timeoutMs = posInt(options.timeoutMs, 'timeoutMs', 5000, 600_000);
  const headers = options.headers ?? {};
  return {
    // The host only: a path or query may carry a token.
    name: `webhook:${url.host}`,
    async publish(note) {
      const cp = noteBody(note);
      const deliveryId = checkpointDeliveryId(note);
      const body: CheckpointDelivery = {
        type: 'tally.checkpoint.v1',
        deliveryId,
        origin: cp.origin,
        treeSize: cp.treeSize,
        rootHash: cp.rootHash,
        time: cp.time,
        note,
      };
      let last = '';
      for (let i = 0; i < attempts; i++) {
        if (i > 0) await sleep(backoffMs * 2 ** (i - 1) * (0.5 + Math.random() / 2));
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json', 'tally-delivery-id': deliveryId },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(timeoutMs),
          });
          await res.arrayBuffer().catch(() => undefined); // let the connection be reused
          if (res.ok) return;
          last = `HTTP ${res.status}`;
          if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
        } catch (err) {
          last = err instanceof Error ? err.name : 'network error';
        }
      }
      throw new TallyError(
        'SINK_TARGET_UNAVAILABLE',
        `webhook ${url.host} did not acknowledge the checkpoint of ${cp.treeSize} rows (${last})`,
        { details: { deliveryId } },
      );
    },
    async latest() {
      if (options.latestUrl === undefined) return null;
      const res = await fetch(options.latestUrl, { headers, signal: AbortSignal.timeout(timeoutMs) });
      if (res.status === 404) return null;
      if (!res.ok) {
        throw new TallyError('SINK_TARGET_UNAVAILABLE', `webhook latest: HTTP ${res.status}`);
      }
      const text = await res.text();
      if (!text.trimStart().startsWith('{')) return text;
      const note = (JSON.parse(text) as { note?: unknown }).note;
      if (typeof note !== 'string') {
        throw new TallyError('INVALID_EVIDENCE', 'webhook latest: the answer has no note');
      }
      return note;
    },
  };
}
