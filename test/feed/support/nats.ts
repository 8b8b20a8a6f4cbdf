import { randomBytes } from 'node:crypto';
import { connect, type JsMsg, type NatsConnection } from 'nats';
import { masked, noteUnavailable } from '../../support/skips.js';

/** The broker tests use: NATS_URL, or the local JetStream-enabled server developer machines and CI run. */
export const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const inCI = process.env.CI === 'true' || process.env.CI === '1';

async function reachable(): Promise<boolean> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 2000, reconnect: false });
    try {
      // JetStream must be enabled too: a bare NATS server answers the account info request with 503.
      await (await nc.jetstreamManager()).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}

export const natsAvailable = await reachable();
if (!natsAvailable && inCI) {
  // Under CI a missing broker is a failure, never a silent skip.
  throw new Error(`CI=true but NATS JetStream is not reachable at ${NATS_URL}`);
}
if (!natsAvailable) noteUnavailable('NATS', `JetStream not reachable at ${masked(NATS_URL)}`);

/** A stream name no other test uses. */
export const uniqueStream = (tag: string): string => `T_${tag}_${randomBytes(5).toString('hex')}`;
/** A subject prefix no other test uses, so test streams never capture each other's subjects. */
export const uniquePrefix = (): string => `tt${randomBytes(5).toString('hex')}`;

export async function natsConnection(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL, timeout: 3000 });
}

/** Deletes the stream if it exists (each test cleans up what it created). */
export async function deleteStream(nc: NatsConnection, name: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(name).catch(() => {});
}

/** Every message of a stream, read back with an ordered consumer: subject, message id, parsed body. */
export async function readStream(
  nc: NatsConnection,
  stream: string,
): Promise<{ subject: string; msgId: string; body: any; seq: number }[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const total = info.state.messages;
  const out: { subject: string; msgId: string; body: any; seq: number }[] = [];
  if (total === 0) return out;
  const consumer = await nc.jetstream().consumers.get(stream);
  const messages = await consumer.consume();
  for await (const m of messages as AsyncIterable<JsMsg>) {
    out.push({
      subject: m.subject,
      msgId: m.headers?.get('Nats-Msg-Id') ?? '',
      body: m.json(),
      seq: m.seq,
    });
    if (m.seq >= info.state.last_seq) break;
  }
  await messages.close();
  return out;
}
