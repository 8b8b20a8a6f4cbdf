/**
 * LISTEN/NOTIFY as a wake-up hint. The migration's statement-level trigger NOTIFYs `<schema>_feed` when
 * a transaction that wrote the log or command events commits. A notification only shortens the sleep
 * between polls: correctness never depends on it (notifications can be lost with a dropped connection),
 * so the consumer still polls every `pollMs`.
 */

/** The part of a `pg` Pool used for LISTEN: one connection is checked out and kept. */
export interface PgListenPoolLike {
  connect(): Promise<PgListenClientLike>;
}
export interface PgListenClientLike {
  query(text: string): Promise<unknown>;
  on(event: 'notification', listener: (msg: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  release(err?: boolean | Error): void;
  /** When present (a `pg` Client is an EventEmitter), the listeners are removed on stop. */
  removeListener?(event: string, listener: (...args: any[]) => void): unknown;
}
/** The part of a PGlite instance used for LISTEN. */
export interface PGliteListenLike {
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}
export type WakeSource = PgListenPoolLike | PGliteListenLike;

/** The NOTIFY channel of a schema (unquoted name): `<schema>_feed`, cut to fit 63 bytes as the trigger does. */
export function feedChannel(schemaName: string): string {
  return `${schemaName.slice(0, 58)}_feed`;
}

const RETRY_LISTEN_MS = 5_000;

export class Wakeup {
  readonly #source: WakeSource | null;
  readonly #channel: string;
  readonly #payload: string;
  #dirty = false;
  #wake: (() => void) | null = null;
  #unlisten: (() => Promise<void>) | null = null;
  #lastAttempt = 0;

  constructor(source: WakeSource | null, schemaName: string, payload: string) {
    this.#source = source;
    this.#channel = feedChannel(schemaName);
    this.#payload = payload;
  }

  /** True while a LISTEN is in place. */
  get listening(): boolean {
    return this.#unlisten !== null;
  }

  #notified = (payload: string | undefined) => {
    if (payload !== undefined && payload !== this.#payload) return;
    this.#dirty = true;
    this.#wake?.();
  };

  /** Starts listening; a failure leaves the consumer polling (and is retried every few seconds). */
  async start(): Promise<void> {
    if (!this.#source || this.#unlisten) return;
    this.#lastAttempt = Date.now();
    try {
      if ('listen' in this.#source && typeof this.#source.listen === 'function') {
        // PGlite lower-cases an unquoted channel name; the trigger's channel keeps the schema's case.
        this.#unlisten = await this.#source.listen(`"${this.#channel}"`, (p) => this.#notified(p));
        return;
      }
      const client = await (this.#source as PgListenPoolLike).connect();
      let gone = false;
      const onNotification = (msg: { channel: string; payload?: string }) => {
        if (msg.channel === this.#channel) this.#notified(msg.payload);
      };
      const onError = () => {
        // The connection died: fall back to polling, never crash the process. Once released (stop), the
        // client belongs to the pool again, and releasing it a second time would throw from this handler.
        if (gone) return;
        gone = true;
        this.#unlisten = null;
        detach();
        client.release(true);
      };
      const detach = () => {
        client.removeListener?.('notification', onNotification);
        client.removeListener?.('error', onError);
      };
      client.on('error', onError);
      client.on('notification', onNotification);
      await client.query(`LISTEN "${this.#channel}"`);
      this.#unlisten = async () => {
        if (gone) return;
        gone = true;
        await client.query(`UNLISTEN "${this.#channel}"`).catch(() => {});
        detach();
        client.release();
      };
    } catch {
      this.#unlisten = null;
    }
  }

  /**
   * Resolves after `ms`, on a notification (also one that came since the last wait) or on abort.
   * Call `consume()` before reading so a notification during the read is not lost.
   */
  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#source && !this.#unlisten && Date.now() - this.#lastAttempt > RETRY_LISTEN_MS)
      await this.start();
    if (this.#dirty || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  /** Clears the pending notification flag (call right before reading the feed). */
  consume(): void {
    this.#dirty = false;
  }

  async stop(): Promise<void> {
    const u = this.#unlisten;
    this.#unlisten = null;
    this.#wake?.();
    if (u) await u().catch(() => {});
  }
}
