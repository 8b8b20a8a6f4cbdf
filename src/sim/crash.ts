// Crashes of the Tally process at await boundaries. One incarnation is one life of the process: when it
// crashes, nothing it does afterwards reaches the database — an open transaction rolls back, and every
// later statement waits forever, as a dead process's would never arrive. The next incarnation starts
// from what the database holds.
import type { Executor, Row, SqlQuery } from '../db/types.js';

/** Thrown where a crash point fires: the dead process's code stops there. */
export class SimCrash extends Error {
  constructor() {
    super('simulated crash');
    this.name = 'SimCrash';
  }
}

/** A promise that never settles: what a dead process's next statement awaits. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

/** One life of the simulated Tally process. */
export class Incarnation {
  #dead = false;
  #open = 0;
  #drained: (() => void) | null = null;
  #onDeath!: () => void;
  /** Resolves when this incarnation crashes. */
  readonly died: Promise<void>;

  constructor(readonly n: number) {
    this.died = new Promise<void>((resolve) => {
      this.#onDeath = resolve;
    });
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** The process dies here: throws, so the code that called it runs no further. */
  crash(): never {
    this.#dead = true;
    this.#onDeath();
    throw new SimCrash();
  }

  /** Resolves once the transactions this incarnation had open have rolled back. */
  drained(): Promise<void> {
    if (this.#open === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }

  /** @internal transaction bookkeeping of the crashable executor. */
  opened(): void {
    this.#open++;
  }

  /** @internal */
  closed(): void {
    this.#open--;
    if (this.#open === 0 && this.#drained) {
      const d = this.#drained;
      this.#drained = null;
      d();
    }
  }
}

/**
 * The database as one incarnation sees it: the real executor until the incarnation dies; after, a
 * statement inside a transaction throws (so the transaction rolls back) and any other never returns.
 */
export function crashable(db: Executor, life: Incarnation): Executor {
  const inTx = (tx: Executor): Executor => ({
    dialect: tx.dialect,
    inTransaction: true,
    query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      if (life.dead) return Promise.reject(new SimCrash());
      return tx.query<R>(q);
    },
    exec(text: string): Promise<void> {
      if (life.dead) return Promise.reject(new SimCrash());
      return tx.exec(text);
    },
    transaction<T>(fn: (t: Executor) => Promise<T>): Promise<T> {
      return tx.transaction((t) => fn(inTx(t)));
    },
    close: () => Promise.resolve(),
  });
  return {
    dialect: db.dialect,
    inTransaction: false,
    query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      return life.dead ? never() : db.query<R>(q);
    },
    exec(text: string): Promise<void> {
      return life.dead ? never() : db.exec(text);
    },
    async transaction<T>(fn: (tx: Executor) => Promise<T>, options?: Parameters<Executor['transaction']>[1]) {
      if (life.dead) return never<T>();
      life.opened();
      try {
        return await db.transaction(async (tx) => {
          const out = await fn(inTx(tx));
          if (life.dead) throw new SimCrash(); // it died before its COMMIT was sent
          return out;
        }, options);
      } catch (err) {
        if (life.dead) return never<T>();
        throw err;
      } finally {
        life.closed();
      }
    },
    close: () => Promise.resolve(),
  };
}
