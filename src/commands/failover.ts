import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';

/** A secondary store for a command type's records while its primary database is unreachable. */
export interface FailoverOptions {
  /** The secondary database (Tally's schema migrated there too, under the same schema name). */
  db: Executor;
  /**
   * When the idempotency key was minted, or null when it cannot tell. Only a key minted after the
   * primary was seen unreachable is accepted on the secondary; any other may already live on the
   * primary and is answered COMMAND_OUTCOME_UNKNOWN. Default: the time in a UUIDv7 key, else null.
   */
  keyTime?: (key: string) => Date | null;
  /** While the primary is unreachable, try it again after this long (ms). Default 1000. */
  retryPrimaryMs?: number;
}

export interface ResolvedFailover {
  readonly db: Executor;
  readonly keyTime: (key: string) => Date | null;
  readonly retryPrimaryMs: number;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The creation time a UUIDv7 carries (its first 48 bits, Unix milliseconds); null for anything else.
 *
 * @example
 * uuidV7Time('019ab3c2-5d10-7c3e-9a41-2f0e1d2c3b4a'); // a Date
 */
export function uuidV7Time(key: string): Date | null {
  if (typeof key !== 'string' || !UUID_V7.test(key)) return null;
  return new Date(Number.parseInt(key.slice(0, 8) + key.slice(9, 13), 16));
}

/**
 * A UUIDv7 idempotency key minted at `at` (the head of the chain creates keys like this, so a store can
 * tell a new request from a retry of one that may predate an outage).
 *
 * @example
 * const key = uuidV7(new Date());
 */
export function uuidV7(at: Date, random: (n: number) => Uint8Array = randomBytes): string {
  const ms = at.getTime().toString(16).padStart(12, '0');
  const r = random(10);
  const hex = Array.from(r, (b) => b.toString(16).padStart(2, '0')).join('');
  const variant = ((r[2]! & 0x3f) | 0x80).toString(16);
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${hex.slice(1, 4)}-${variant}${hex.slice(6, 8)}-${hex.slice(8, 20)}`;
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** Validates `failover` of a command declaration. */
export function resolveFailover(name: string, f: FailoverOptions | undefined): ResolvedFailover | null {
  if (f === undefined) return null;
  const bad = (what: string) => new TallyError('INVALID_COMMAND', `command ${name}: failover.${what}`);
  if (!f || typeof f !== 'object') throw bad('must be an object { db, keyTime?, retryPrimaryMs? }');
  const db = f.db as Partial<Executor> | undefined;
  if (!db || typeof db.query !== 'function' || typeof db.transaction !== 'function') {
    throw bad('db must be an executor (postgres(pool) or await pglite(dir))');
  }
  if (f.keyTime !== undefined && typeof f.keyTime !== 'function') throw bad('keyTime must be a function');
  const ms = f.retryPrimaryMs ?? 1000;
  if (!Number.isInteger(ms) || ms < 0 || ms > 600_000) {
    throw bad('retryPrimaryMs must be an integer from 0 to 600000');
  }
  return Object.freeze({ db: f.db, keyTime: f.keyTime ?? uuidV7Time, retryPrimaryMs: ms });
}

/** What this process has seen of a primary: reachable, or unreachable since when. */
export class PrimaryHealth {
  #downSince: Date | null = null;
  #retryAt = 0;

  /** When this process first saw the primary unreachable in the current outage (null: reachable). */
  get downSince(): Date | null {
    return this.#downSince;
  }

  /** Whether to skip the primary now (it is down and not due for another try). */
  skip(now: Date): boolean {
    return this.#downSince !== null && now.getTime() < this.#retryAt;
  }

  down(now: Date, retryMs: number): void {
    if (this.#downSince === null) this.#downSince = now;
    this.#retryAt = now.getTime() + retryMs;
  }

  up(): void {
    this.#downSince = null;
    this.#retryAt = 0;
  }
}

const healths = new WeakMap<Executor, PrimaryHealth>();

/** One health record per primary executor, shared by every command type that uses it. */
export function healthOf(primary: Executor): PrimaryHealth {
  let h = healths.get(primary);
  if (!h) {
    h = new PrimaryHealth();
    healths.set(primary, h);
  }
  return h;
}
