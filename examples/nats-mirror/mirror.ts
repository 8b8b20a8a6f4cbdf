// A downstream service that knows nothing of PostgreSQL or Tally's tables: it subscribes to the
// JetStream stream the relay fills (a durable consumer, so it resumes where it stopped) and keeps its
// own copy of every entity's state. It applies an entry only when its version is newer than the one it
// holds, so a redelivered or re-published entry changes nothing.
import { AckPolicy, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';

/** The part of a relayed log entry the mirror reads (the body is the whole feed entry as JSON). */
interface RelayedLogEntry {
  source: 'log';
  id: string;
  entry: {
    entity_type: string;
    entity_key: string;
    version: number;
    action: string;
    actor: string;
    after: Record<string, unknown> | null;
  };
}

export interface Mirrored {
  readonly type: string;
  readonly key: string;
  readonly version: number;
  readonly state: unknown;
  readonly row: Record<string, unknown> | null;
}

export class NatsMirror {
  /** `type/key` -> what the mirror knows. */
  readonly entities = new Map<string, Mirrored>();
  applied = 0;
  ignored = 0;
  #messages: ConsumerMessages | null = null;
  #loop: Promise<void> | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly durable: string,
    private readonly say: (line: string) => void,
  ) {}

  /** Creates the durable consumer (idempotent) and starts applying messages. */
  async start(filterSubject: string): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    await jsm.consumers.add(this.stream, {
      durable_name: this.durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: filterSubject,
    });
    const consumer = await this.nc.jetstream().consumers.get(this.stream, this.durable);
    const messages = await consumer.consume({ max_messages: 256 });
    this.#messages = messages;
    this.#loop = (async () => {
      for await (const m of messages as AsyncIterable<JsMsg>) {
        this.apply(m.json<RelayedLogEntry>(), m.seq);
        m.ack();
      }
    })();
  }

  /** One relayed entry: newer versions replace what the mirror holds; older or equal ones are ignored. */
  apply(msg: RelayedLogEntry, seq: number): void {
    const e = msg.entry;
    const id = `${e.entity_type}/${e.entity_key}`;
    const known = this.entities.get(id);
    if (known && known.version >= e.version) {
      this.ignored++;
      return;
    }
    const state = e.after?.state;
    this.entities.set(id, {
      type: e.entity_type,
      key: e.entity_key,
      version: e.version,
      state,
      row: e.after,
    });
    this.applied++;
    this.say(
      `   mirror learned ${id}: ${e.action} by ${e.actor} -> ${String(state)} (version ${e.version}; stream seq ${seq}, ${msg.source}-${msg.id})`,
    );
  }

  /** Waits until `done()` holds, polling the mirror's own map (it is updated by the consume loop). */
  async until(done: () => boolean, timeoutMs = 15_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    return true;
  }

  /** Stops consuming; the durable consumer on the server remembers what was acknowledged. */
  async stop(): Promise<void> {
    await this.#messages?.close();
    await this.#loop;
    this.#messages = null;
  }
}
