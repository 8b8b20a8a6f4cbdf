import { TallyError } from '../errors.js';
import { checkpointHash, parseCheckpointBody } from './checkpoint.js';

/**
 * Where a signed checkpoint goes so that the database's writers cannot rewrite it (decision 0063): an
 * append-only file, a webhook, a NATS JetStream subject. A sink must be idempotent for one checkpoint —
 * the same note may be published again after a crash or a failed round — which `deliveryId` makes cheap
 * (the file skips its own last note, JetStream's duplicate window drops a repeated message id, a webhook
 * receiver dedupes on the header).
 */
export interface CheckpointSink {
  /** A short name for reports (`file:/mnt/worm/cps.txt`, `nats:tally.checkpoints`, `webhook:host`). */
  readonly name: string;
  /** Stores one signed checkpoint note; resolves once the target acknowledged it, rejects otherwise. */
  publish(note: string): Promise<void>;
  /** The newest checkpoint the target holds (what `tally verify` compares against), or null if none. */
  latest(): Promise<string | null>;
  /** Releases connections the sink opened itself. */
  close?(): Promise<void>;
}

/**
 * A checkpoint's delivery id: the base64url SHA-256 of its body (signatures excluded, as `prev` links
 * hash it), so a re-signed checkpoint keeps its id and two different checkpoints never share one.
 *
 * @example
 * headers['Tally-Delivery-Id'] = checkpointDeliveryId(note);
 */
export function checkpointDeliveryId(note: string): string {
  return checkpointHash(noteBody(note)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** The checkpoint body of a signed note (INVALID_EVIDENCE when it is not one). */
export function noteBody(note: string) {
  const end = note.indexOf('\n\n');
  if (end < 0) throw new TallyError('INVALID_EVIDENCE', 'not a signed checkpoint note');
  return parseCheckpointBody(note.slice(0, end + 1));
}

export interface SinkFailure {
  sink: string;
  error: Error;
}

export interface PublishReport {
  /** Every sink acknowledged the note (the checkpoint counts as published). */
  published: boolean;
  /** Sinks that acknowledged it in this call, or earlier (skipped). */
  acked: string[];
  failed: SinkFailure[];
}

/**
 * Publishes a checkpoint to every sink that has not acknowledged it yet, at once; a failing sink does
 * not stop the others and is tried again on the next call. Keeps, per sink, the last note it acknowledged.
 *
 * @example
 * const fanout = new SinkFanout([fileCheckpointSink('/mnt/worm/cps.txt')]);
 * const report = await fanout.publish(note);
 * if (!report.published) console.error(report.failed);
 */
export class SinkFanout {
  readonly sinks: readonly CheckpointSink[];
  readonly #acked = new Map<CheckpointSink, string>();

  constructor(sinks: readonly CheckpointSink[]) {
    if (sinks.length === 0) {
      throw new TallyError('INVALID_SINK_OPTIONS', 'sealing needs at least one checkpoint sink');
    }
    const names = new Set(sinks.map((s) => s.name));
    if (names.size !== sinks.length) {
      throw new TallyError('INVALID_SINK_OPTIONS', 'two checkpoint sinks have the same name');
    }
    this.sinks = sinks;
  }

  async publish(note: string): Promise<PublishReport> {
    const acked: string[] = [];
    const failed: SinkFailure[] = [];
    await Promise.all(
      this.sinks.map(async (sink) => {
        if (this.#acked.get(sink) === note) {
          acked.push(sink.name);
          return;
        }
        try {
          await sink.publish(note);
          this.#acked.set(sink, note);
          acked.push(sink.name);
        } catch (err) {
          failed.push({ sink: sink.name, error: err instanceof Error ? err : new Error(String(err)) });
        }
      }),
    );
    return { published: failed.length === 0, acked, failed };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.sinks.map((s) => s.close?.()));
  }
}
