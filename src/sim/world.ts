// One schedule's world: its time, randomness, faults, event queue, trace and the life of the simulated
// Tally process. Events run one at a time, each to its end (or to a crash), in time order; ties in the
// order they were scheduled. That order is the schedule: the same seed and faults give the same trace.
import { SimClock } from './clock.js';
import { Incarnation, SimCrash } from './crash.js';
import { type Fault, FaultBook } from './faults.js';
import { Prng } from './prng.js';

interface Event {
  at: number;
  seq: number;
  label: string;
  /** Worker rounds do not keep a schedule alive on their own. */
  background: boolean;
  run: () => Promise<void>;
  /** Called when the process died during `run` (a client sees its connection cut). */
  onCrash?: () => void;
}

/** How an event runs: in the background (worker rounds), and what happens if the process dies in it. */
export interface EventOptions {
  background?: boolean;
  onCrash?: () => void;
}

/** The schedule's world, as scenarios and parties see it. */
export class World {
  readonly clock = new SimClock();
  /** Retry jitter and message delays. */
  readonly jitter: Prng;
  /** Tally's ids (commands, leases, workers) and the scenario's nonces. */
  readonly idStream: Prng;
  readonly faults: FaultBook;
  readonly trace: string[] = [];
  #queue: Event[] = [];
  #seq = 0;
  #life = new Incarnation(1);
  #hits = new Map<string, number>();
  #onRestart: (life: Incarnation) => Promise<void> = async () => {};
  #settled = false;

  constructor(
    readonly seed: number,
    faults: readonly Fault[],
  ) {
    this.jitter = new Prng(seed, 2);
    this.idStream = new Prng(seed, 3);
    this.faults = new FaultBook(faults);
  }

  /** Seeded UUIDs for Tally's `ids` option. */
  readonly ids = (): string => this.idStream.uuid();

  /** The current life of the simulated process. */
  get life(): Incarnation {
    return this.#life;
  }

  /** What to do when the process restarts after a crash (the scenario boots Tally again). */
  onRestart(fn: (life: Incarnation) => Promise<void>): void {
    this.#onRestart = fn;
  }

  /** Appends a trace line, stamped with the schedule's time. */
  log(line: string): void {
    this.trace.push(`+${(this.clock.elapsed / 1000).toFixed(3)}s ${line}`);
  }

  /** Schedules `run` at `atMs` after the start. */
  at(atMs: number, label: string, run: () => Promise<void>, options: EventOptions = {}): void {
    const e: Event = {
      at: Math.max(atMs, this.clock.elapsed),
      seq: this.#seq++,
      label,
      background: options.background ?? false,
      run,
      ...(options.onCrash ? { onCrash: options.onCrash } : {}),
    };
    let i = this.#queue.length;
    while (
      i > 0 &&
      (this.#queue[i - 1]!.at > e.at || (this.#queue[i - 1]!.at === e.at && this.#queue[i - 1]!.seq > e.seq))
    )
      i--;
    this.#queue.splice(i, 0, e);
  }

  /**
   * A crash point: if this schedule crashes the process at its nth arrival here, the process dies now
   * (this throws, and nothing it does later reaches the database).
   */
  point(name: string): void {
    if (this.#settled) return;
    const n = (this.#hits.get(name) ?? 0) + 1;
    this.#hits.set(name, n);
    if (this.#life.dead) throw new SimCrash();
    if (this.faults.find('crash', (f) => f.point === name && f.nth === n)) {
      this.log(`CRASH at ${name} #${n}`);
      this.#life.crash();
    }
  }

  /** The schedule is over: what runs now (the checks, a consumer's last delivery) crashes nowhere. */
  settle(): void {
    this.#settled = true;
  }

  /**
   * Runs events in time order until none but background ones are left and `idle()` says so, or time
   * passes `horizonMs`.
   */
  async run(horizonMs: number, idle: () => Promise<boolean>): Promise<void> {
    for (;;) {
      const e = this.#queue.shift();
      if (!e || e.at > horizonMs) return;
      if (e.background && !this.#queue.some((x) => !x.background) && (await idle())) return;
      this.clock.advanceTo(e.at);
      if ((await this.guard(e.run)) === 'crashed') e.onCrash?.();
    }
  }

  /** Runs `fn` in the current life; if the process dies meanwhile, restarts it and says 'crashed'. */
  async guard(fn: () => Promise<void>): Promise<'done' | 'crashed'> {
    const life = this.#life;
    const r = await Promise.race([
      fn().then(
        () => 'done' as const,
        (err) => {
          if (err instanceof SimCrash || life.dead) return 'crashed' as const;
          throw err;
        },
      ),
      life.died.then(() => 'crashed' as const),
    ]);
    if (r === 'crashed') {
      await life.drained();
      this.#life = new Incarnation(life.n + 1);
      this.log(`restart (life ${this.#life.n})`);
      await this.#onRestart(this.#life);
    }
    return r;
  }
}
