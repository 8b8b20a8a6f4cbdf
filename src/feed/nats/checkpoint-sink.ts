import type { JetStreamManager, NatsConnection, StreamConfig } from 'nats';
import { TallyError } from '../../errors.js';
import { type CheckpointSink, checkpointDeliveryId, noteBody } from '../../evidence/sink.js';
import { connectNats } from './connect.js';
import { streamName } from './names.js';
import { DEFAULT_DUPLICATE_WINDOW_MS, nanos, natsFailure } from './stream.js';

export interface NatsCheckpointSinkOptions {
  /** A connection to use (not closed by the sink), or `servers` to open one. */
  nc?: NatsConnection;
  servers?: string;
  /** The subject checkpoints are published on, e.g. `tally.checkpoints.orders`. */
  subject: string;
  /**
   * The stream that holds them. Default: the stream that already captures `subject`, else
   * `TALLY_CHECKPOINTS`, created (deny-delete, deny-purge) when missing.
   */
  stream?: string;
  /** Per publish or read. Default 5000 ms. */
  timeoutMs?: number;
}

const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
// JetStream API error codes: stream not found; no message found (for last_by_subj).
const STREAM_NOT_FOUND = 10059;
const NO_MESSAGE = 10037;
const apiCode = (err: unknown): number | undefined =>
  (err as { api_error?: { err_code?: number } })?.api_error?.err_code;

/**
 * The NATS JetStream sink (decision 0063): each checkpoint is one message on `subject`, acknowledged by
 * the stream, with its delivery id as `Nats-Msg-Id` so a repeat inside the duplicate window is dropped.
 * A stream it creates denies deleting and purging messages, so a client holding only the database's
 * credentials (and the publish permission) cannot take a checkpoint back. `latest()` reads the newest
 * message on the subject (`tally verify --sink nats:SUBJECT`).
 *
 * @example
 * const sink = natsCheckpointSink({ servers: '127.0.0.1:4222', subject: 'tally.checkpoints.orders' });
 * await sink.publish(note);
 * await sink.close?.();
 */
export function natsCheckpointSink(options: NatsCheckpointSinkOptions): CheckpointSink {
  const { subject } = options;
  if (typeof subject !== 'string' || !SUBJECT.test(subject)) {
    throw new TallyError(
      'INVALID_SINK_OPTIONS',
      'NATS checkpoint subject must be dot-separated tokens of letters, digits, _ or - (no wildcards)',
    );
  }
  if ((options.nc === undefined) === (options.servers === undefined)) {
    throw new TallyError('INVALID_SINK_OPTIONS', 'NATS checkpoint sink: give exactly one of nc and servers');
  }
  const named = options.stream === undefined ? undefined : streamName(options.stream, 'checkpoint stream');
  const timeout = options.timeoutMs ?? 5000;
  let conn: Promise<NatsConnection> | null = null;
  let ready: Promise<{ jsm: JetStreamManager; stream: string }> | null = null;
  const nc = (): Promise<NatsConnection> => {
    conn ??= options.nc
      ? Promise.resolve(options.nc)
      : connectNats(options.servers!, { timeoutMs: timeout, name: 'tally-sealer' }).catch((err) => {
          conn = null;
          throw err;
        });
    return conn;
  };
  // The stream: the named one, else whichever already captures the subject, else TALLY_CHECKPOINTS created.
  const manager = (): Promise<{ jsm: JetStreamManager; stream: string }> => {
    ready ??= (async () => {
      const jsm = await (await nc()).jetstreamManager({ timeout });
      const found = named ?? (await jsm.streams.find(subject).catch(() => undefined));
      const stream = found ?? 'TALLY_CHECKPOINTS';
      await ensureCheckpointStream(jsm, stream, subject);
      return { jsm, stream };
    })().catch((err) => {
      ready = null;
      throw natsFailure(err, `setting up the checkpoint stream for ${subject}`);
    });
    return ready;
  };
  return {
    name: `nats:${subject}`,
    async publish(note) {
      const cp = noteBody(note);
      const { stream } = await manager();
      try {
        const js = (await nc()).jetstream({ timeout });
        await js.publish(subject, new TextEncoder().encode(note), {
          msgID: checkpointDeliveryId(note),
          expect: { streamName: stream },
          timeout,
        });
      } catch (err) {
        throw natsFailure(err, `publishing the checkpoint of ${cp.treeSize} rows to ${subject}`);
      }
    },
    async latest() {
      const { jsm, stream } = await manager();
      try {
        const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
        return new TextDecoder().decode(m.data);
      } catch (err) {
        if (apiCode(err) === NO_MESSAGE) return null;
        throw natsFailure(err, `reading the latest checkpoint on ${subject}`);
      }
    },
    async close() {
      if (options.nc === undefined && conn !== null) {
        const c = await conn.catch(() => null);
        conn = null;
        await c?.close();
      }
    },
  };
}

async function ensureCheckpointStream(jsm: JetStreamManager, name: string, subject: string): Promise<void> {
  try {
    const info = await jsm.streams.info(name);
    if (!(info.config.subjects ?? []).includes(subject)) {
      await jsm.streams.update(name, {
        ...info.config,
        subjects: [...(info.config.subjects ?? []), subject],
      });
    }
    return;
  } catch (err) {
    if (apiCode(err) !== STREAM_NOT_FOUND) throw err;
  }
  const config: Partial<StreamConfig> = {
    name,
    subjects: [subject],
    duplicate_window: nanos(DEFAULT_DUPLICATE_WINDOW_MS),
    retention: 'limits' as StreamConfig['retention'],
    storage: 'file' as StreamConfig['storage'],
    // What makes it a place the database's writers cannot rewrite: no message can be deleted or purged
    // through the API (an operator with the server's files is another matter; see docs/evidence.md).
    deny_delete: true,
    deny_purge: true,
    description: 'Tally signed checkpoints (append-only)',
  };
  await jsm.streams.add(config);
}
