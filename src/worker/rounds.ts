import type { CommandResult } from '../commands/result.js';
import type { TallyConfig } from '../config.js';
import { addRoundsSql, type RoundCounts } from './rounds-sql.js';

const MINUTE = 60_000;
/** How long worker_rounds keeps a minute (the Overview's default window is the last 24 hours). */
export const ROUNDS_KEPT_MS = 24 * 3_600_000;

/**
 * A worker's rounds, added up in memory and written to worker_rounds (decision 0146) at most once every
 * `everyMs`, or when a round finds nothing due: one upsert a second at most while the worker is busy,
 * none while it is idle (an idle round is not counted). Only rounds that claimed something are counted.
 */
export class RoundLedger {
  readonly #config: TallyConfig;
  readonly #worker: string;
  readonly #everyMs: number;
  #counts: RoundCounts | null = null;
  #writtenAt = Number.NEGATIVE_INFINITY;
  #prunedMinute = -1;

  constructor(config: TallyConfig, worker: string, everyMs = 1000) {
    this.#config = config;
    this.#worker = worker;
    this.#everyMs = everyMs;
  }

  /** Adds one round that claimed `claimed` commands and drove them to `results`. */
  add(claimed: number, results: readonly CommandResult[], errors: number, busyMs: number): void {
    if (claimed === 0) return;
    this.#counts ??= {
      rounds: 0,
      claimed: 0,
      succeeded: 0,
      failed: 0,
      needsAttention: 0,
      waiting: 0,
      errors: 0,
      busyMs: 0,
    };
    const c = this.#counts;
    c.rounds++;
    c.claimed += claimed;
    c.errors += errors;
    c.busyMs += busyMs;
    for (const r of results) {
      if (r.status === 'succeeded') c.succeeded++;
      else if (r.status === 'failed') c.failed++;
      else if (r.status === 'needs_attention') c.needsAttention++;
      else c.waiting++;
    }
  }

  /** Writes what was added when it is time (`idle`: the round found nothing due), or now with `force`. */
  async write(idle: boolean, force = false): Promise<void> {
    const counts = this.#counts;
    if (!counts) return;
    const at = this.#config.clock();
    const now = at.getTime();
    if (!force && !idle && now - this.#writtenAt < this.#everyMs && now >= this.#writtenAt) return;
    this.#counts = null;
    this.#writtenAt = now;
    const minute = Math.floor(now / MINUTE) * MINUTE;
    const prune = minute !== this.#prunedMinute ? new Date(minute - ROUNDS_KEPT_MS) : null;
    this.#prunedMinute = minute;
    const { db, s } = this.#config;
    await db.query(addRoundsSql(s, this.#worker, new Date(minute), at, counts, prune));
  }
}
