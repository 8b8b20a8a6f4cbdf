import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { HasTallyConfig } from '../feed/consumer.js';
import type { SealKey } from './keys.js';
import { type SealResult, sealOnce } from './sealer.js';
import { type CheckpointSink, type PublishReport, SinkFanout } from './sink.js';
import { latestCheckpointSql, unsealedEstimateSql } from './sql.js';

/**
 * Sealing on a schedule (decision 0063): `sealOnce`, then the latest stored checkpoint to every sink.
 * The sealer runs beside the write path, never inside it: a slow or failing sink delays only the
 * checkpoint's external copy, which the next round retries (the stored checkpoint is already signed).
 */
export interface SealScheduleOptions {
  key: SealKey;
  origin: string;
  /** At least one: where each checkpoint is copied outside the database. */
  sinks: readonly CheckpointSink[];
  /** Seal at least this often (ms). Default 5000. */
  everyMs?: number;
  /**
   * Also seal as soon as about this many rows are unsealed (checked every `checkMs`); default none.
   * "About": it compares log ids, which commit order may not follow exactly.
   */
  afterRows?: number;
  /** How often `afterRows` is checked. Default 250 ms. */
  checkMs?: number;
  /** The sealer's feed consumer name (default `tally-sealer`). */
  consumer?: string;
  /** Each round's outcome: what was sealed, and which sinks acknowledged or failed. */
  onRound?: (round: SealRound) => void;
  /** A round that failed (the database is away, say); the schedule goes on. */
  onError?: (err: unknown) => void;
}

export interface SealRound extends SealResult {
  /** The latest checkpoint (this round's or an earlier one's), null before the first. */
  latest: string | null;
  /** The sinks' answer for `latest`; null when there is no checkpoint yet. */
  report: PublishReport | null;
}

const int = (v: unknown, what: string, fallback: number | undefined, min: number, max: number) => {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new TallyError('INVALID_WORKER_OPTIONS', `seal ${what} must be an integer from ${min} to ${max}`);
  }
  return v;
};

/**
 * Runs the sealer every `everyMs` (and after `afterRows`) and publishes each checkpoint to the sinks.
 *
 * @example
 * const schedule = new SealSchedule(tally, {
 *   key: loadSealKey()!, origin: 'tally example.com/orders',
 *   sinks: [fileCheckpointSink('/mnt/worm/checkpoints.txt')], everyMs: 2000,
 * });
 * schedule.start(); // ... await schedule.stop();
 */
export class SealSchedule {
  readonly #tally: HasTallyConfig;
  readonly #options: SealScheduleOptions;
  readonly #fanout: SinkFanout;
  readonly #everyMs: number;
  readonly #afterRows: number | undefined;
  readonly #checkMs: number;
  #loop: Promise<void> | null = null;
  #running = false;
  #wake: (() => void) | null = null;

  constructor(tally: HasTallyConfig, options: SealScheduleOptions) {
    this.#tally = tally;
    this.#options = options;
    this.#fanout = new SinkFanout(options.sinks);
    this.#everyMs = int(options.everyMs, 'everyMs', 5000, 10, 86_400_000)!;
    this.#afterRows = int(options.afterRows, 'afterRows', undefined, 1, 100_000_000);
    this.#checkMs = int(options.checkMs, 'checkMs', 250, 10, 3_600_000)!;
  }

  /**
   * One round: seal what is unsealed, then copy the latest checkpoint to every sink that does not hold
   * it yet (so a sink that failed last round gets it now).
   *
   * @example
   * const { treeSize, report } = await schedule.runOnce();
   */
  async runOnce(): Promise<SealRound> {
    const { key, origin } = this.#options;
    const sealed = await sealOnce(this.#tally, {
      key,
      origin,
      ...(this.#options.consumer === undefined ? {} : { consumer: this.#options.consumer }),
    });
    const { db, s } = this.#tally.config;
    const [row] = await db.query<{ note: string }>(latestCheckpointSql(s, origin));
    const latest = row?.note ?? null;
    const report = latest === null ? null : await this.#fanout.publish(latest);
    const round: SealRound = { ...sealed, latest, report };
    this.#options.onRound?.(round);
    return round;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = (async () => {
      let last = 0;
      while (this.#running) {
        const due = Date.now() - last >= this.#everyMs || (await this.#rowsWaiting());
        if (due) {
          last = Date.now();
          try {
            await this.runOnce();
          } catch (err) {
            this.#options.onError?.(err);
          }
        }
        if (!this.#running) break;
        const wait = this.#afterRows === undefined ? this.#everyMs : Math.min(this.#checkMs, this.#everyMs);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(0, Math.min(wait, last + this.#everyMs - Date.now())));
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.#wake = null;
      }
    })();
  }

  /** Stops after the round in progress, then closes the sinks it was given. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    this.#loop = null;
    await this.#fanout.close();
  }

  get running(): boolean {
    return this.#running;
  }

  async #rowsWaiting(): Promise<boolean> {
    if (this.#afterRows === undefined) return false;
    try {
      return (
        (await unsealedEstimate(this.#tally.config.db, this.#tally.config.s, this.#options.origin)) >=
        this.#afterRows
      );
    } catch (err) {
      this.#options.onError?.(err);
      return false;
    }
  }
}

/** Log rows with an id above the newest sealed one: about the rows waiting (two index probes). */
export async function unsealedEstimate(db: Executor, s: string, origin: string): Promise<number> {
  const [r] = await db.query<{ n: string }>(unsealedEstimateSql(s, origin));
  return Number(r?.n ?? 0);
}
