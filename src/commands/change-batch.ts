/**
 * Natural batching of change commands (decision 0026): submits of one change command that arrive
 * while its statements are busy share the next statement. Nothing waits for a timer: with a free
 * statement slot a submit is sent at once, alone; only while `statements` statements are running do
 * new submits queue, and the next free slot takes up to `size` of them in one statement. Under load the
 * cost that is per statement (round trip, executor start-up, commit and its WAL flush) is shared; an
 * idle system sends each submit alone, as before.
 *
 * Items in one statement, and items in this batcher's statements running at the same time, name
 * distinct entity rows and distinct idempotency keys: an item whose row or key is busy waits (in arrival
 * order) for the statement that holds it. So two submits of one command for one row never race each
 * other into the slow path, and a duplicate submit finds its first one's outcome recorded.
 *
 * A statement's error is every item's error, so a failed statement of several items is sent again
 * item by item when the error may be one item's doing: each submit gets the answer its own item gets
 * (a bad value fails only its own command; a concurrent first submit from another process fails only
 * its own key). An error that is no item's (the database unreachable) answers them all at once.
 */

/** How a change command shares statements. `false` in a declaration means one statement per submit. */
export interface ChangeBatchOptions {
  /** Statements of this command running at once before new submits queue for the next one (1-1000). Default 2. */
  statements?: number;
  /** At most this many commands in one statement (1-128). Default 64. */
  size?: number;
}

export interface ResolvedBatch {
  readonly statements: number;
  readonly size: number;
}

/** How the batcher sends: one statement for the items, and which of its errors may be one item's. */
export interface BatchSender<T, R> {
  /** Sends one statement for the items, answering each item (in order). */
  send(items: readonly T[]): Promise<R[]>;
  /** Whether a failed statement's items are worth sending again alone (the error may be one item's). */
  mayBeOneItems(err: unknown): boolean;
}

interface Waiting<T, R> {
  readonly item: T;
  readonly keys: readonly string[];
  resolve(r: R): void;
  reject(err: unknown): void;
}

export class ChangeBatcher<T, R> {
  private readonly queue: Waiting<T, R>[] = [];
  private readonly busy = new Set<string>();
  private running = 0;

  constructor(
    private readonly opts: ResolvedBatch,
    private readonly sender: BatchSender<T, R>,
  ) {}

  /** Runs one item; `keys` are what it must not share with a running item (its row, its idempotency key). */
  run(item: T, keys: readonly string[]): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, keys, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.opts.statements && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return;
      this.running++;
      void this.sendBatch(batch).finally(() => {
        for (const w of batch) for (const k of w.keys) this.busy.delete(k);
        // The slot is handed on after the callers just answered have had their turn: a caller that
        // submits again at once (a client's next request) joins the next statement, instead of taking
        // the free slot alone and leaving the others queued behind it.
        setImmediate(() => {
          this.running--;
          this.pump();
        });
      });
    }
  }

  /** The next statement's items: in arrival order, skipping (and holding back later ones on) busy keys. */
  private take(): Waiting<T, R>[] {
    const taken: Waiting<T, R>[] = [];
    const blocked = new Set<string>();
    for (let i = 0; i < this.queue.length && taken.length < this.opts.size; ) {
      const w = this.queue[i]!;
      if (w.keys.some((k) => this.busy.has(k) || blocked.has(k))) {
        for (const k of w.keys) blocked.add(k);
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      for (const k of w.keys) this.busy.add(k);
      taken.push(w);
    }
    return taken;
  }

  private async sendBatch(batch: readonly Waiting<T, R>[]): Promise<void> {
    try {
      const answers = await this.send(batch.map((w) => w.item));
      for (const [i, w] of batch.entries()) w.resolve(answers[i]!);
    } catch (err) {
      if (batch.length === 1 || !this.sender.mayBeOneItems(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      // Whose error it was is unknown: each item goes again alone and gets its own answer, no more of
      // them at once than statements may run (their keys stay busy meanwhile).
      const left = [...batch];
      const lanes = Math.min(this.opts.statements, left.length);
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          for (let w = left.shift(); w; w = left.shift()) {
            try {
              w.resolve((await this.send([w.item]))[0]!);
            } catch (e) {
              w.reject(e);
            }
          }
        }),
      );
    }
  }

  /** The sender's statement; a sender that throws instead of rejecting is answered the same way. */
  private send(items: readonly T[]): Promise<R[]> {
    return Promise.resolve().then(() => this.sender.send(items));
  }
}
